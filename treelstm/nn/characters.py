r"""Character-level word features: a character BiLSTM (Lample et al., 2016) or a character CNN
(Ma & Hovy, 2016), each mapping a word's characters to one vector.

Characters need no vocabulary of their own: a character with code point below 256 (ASCII and
Latin-1) has id ``code point + 2``; any other character (another script, an emoji) is the
unknown character, id 1; id 0 pads. So a checkpoint carries no character table, and text in
any script is accepted.

* :class:`CharLSTM`: each word is a chain of its characters, read by a bidirectional
  :class:`~treelstm.nn.chain.ChainLSTM` (on its fused path, the padded words are packed for torch's
  kernel directly, without building the chain graph); the word vector is
  :math:`[\overrightarrow{h}_{\text{last}}; \overleftarrow{h}_{\text{first}}]`, size ``2 * hidden_size``.
* :class:`CharCNN`: a width-``kernel_size`` convolution over the character vectors (padded with
  ``kernel_size // 2`` zero characters on each side), max-pooled over the word: ``num_filters`` features.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from treelstm.nn._checks import check_tensor
from treelstm.nn.chain import ChainLSTM
from treelstm.trees import chains

__all__ = ["char_ids", "CharLSTM", "CharCNN", "NUM_CHARS"]

NUM_CHARS = 258
"""Rows of a character table: padding, unknown, and the 256 code points below 256."""


def char_ids(words: Sequence[str]) -> tuple[Tensor, Tensor]:
    """Padded character ids of words.

    Returns:
        ids: ``(W, max length)`` int64, 0 after each word's end.
        lengths: ``(W,)`` the words' lengths in characters (at least 1: an empty word is one padding character).

    Example:
        >>> ids, lengths = char_ids(["Ab", "é", "北"])
        >>> ids.tolist(), lengths.tolist()
        ([[67, 100], [235, 0], [1, 0]], [2, 1, 1])
    """
    lengths = [max(len(w), 1) for w in words]
    ids = torch.zeros(len(words), max(lengths, default=1), dtype=torch.int64)
    for k, word in enumerate(words):
        ids[k, : len(word)] = torch.tensor([ord(c) + 2 if ord(c) < 256 else 1 for c in word], dtype=torch.int64)
    return ids, torch.tensor(lengths)


class CharLSTM(nn.Module):
    r"""A bidirectional LSTM over each word's characters; the word's vector joins the forward
    direction's last state and the backward direction's first.

    Args:
        char_dim: size of a character's vector.
        hidden_size: states per direction; the output has ``2 * hidden_size`` features.

    Inputs: ``ids (W, L)``, ``lengths (W,)`` from :func:`char_ids`.

    Output: ``(W, 2 * hidden_size)``.

    Example:
        >>> encoder = CharLSTM(char_dim=25, hidden_size=25)
        >>> encoder(*char_ids(["U.N.", "official", "Ekeus"])).shape
        torch.Size([3, 50])
    """

    def __init__(self, char_dim: int = 25, hidden_size: int = 25):
        super().__init__()
        self.embedding = nn.Embedding(NUM_CHARS, char_dim, padding_idx=0)
        self.lstm = ChainLSTM(char_dim, hidden_size, bidirectional=True)
        self.out_size = 2 * hidden_size

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        _check_chars("CharLSTM", ids, lengths, self.embedding.weight)
        if self.lstm.fused:  # torch's kernel: pack the padded words directly (no chain graph to build)
            packed = pack_padded_sequence(ids, lengths.cpu(), batch_first=True, enforce_sorted=False)
            vectors = PackedSequence(self.embedding(packed.data), packed.batch_sizes, packed.sorted_indices,
                                     packed.unsorted_indices)
            _, (h_n, _) = nn.LSTM.forward(self.lstm, vectors)  # the same function as ChainLSTM's fused path
            return torch.cat([h_n[0], h_n[1]], dim=1)
        # the characters' rows, row by row, from the lengths on the CPU: boolean-mask indexing of the
        # device ids would read the mask back (a host sync); ``lengths`` on a device costs one copy here
        sizes = lengths.cpu()
        rows = (torch.arange(ids.shape[1]) < sizes[:, None]).flatten().nonzero().squeeze(1)
        chars = ids.flatten().index_select(0, rows.to(ids.device, non_blocking=True))
        _, (h_n, _) = self.lstm(chains(sizes.tolist()), self.embedding(chars))
        return torch.cat([h_n[0], h_n[1]], dim=1)

    def extra_repr(self) -> str:
        return f"out_size={self.out_size}"


class CharCNN(nn.Module):
    r"""A convolution over each word's characters, max-pooled over the word (Ma & Hovy, 2016).

    Args:
        char_dim: size of a character's vector.
        num_filters: convolution filters, the size of the output.
        kernel_size: characters each filter sees (odd).
        dropout: dropout on the character vectors before the convolution (training only).

    Inputs: ``ids (W, L)``, ``lengths (W,)`` from :func:`char_ids`.

    Output: ``(W, num_filters)``.

    Example:
        >>> encoder = CharCNN(char_dim=30, num_filters=30)
        >>> encoder(*char_ids(["U.N.", "official", "Ekeus"])).shape
        torch.Size([3, 30])
    """

    def __init__(self, char_dim: int = 30, num_filters: int = 30, kernel_size: int = 3, dropout: float = 0.0):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.embedding = nn.Embedding(NUM_CHARS, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, num_filters, kernel_size, padding=kernel_size // 2)
        self.dropout = dropout
        self.out_size = num_filters

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        _check_chars("CharCNN", ids, lengths, self.embedding.weight)
        x = F.dropout(self.embedding(ids), self.dropout, self.training)  # (W, L, char_dim)
        features = self.conv(x.transpose(1, 2))  # (W, filters, L)
        beyond = torch.arange(ids.shape[1], device=ids.device) >= lengths.to(ids.device)[:, None]
        return features.masked_fill(beyond[:, None, :], float("-inf")).amax(dim=2)

    def extra_repr(self) -> str:
        return f"out_size={self.out_size}, dropout={self.dropout}"


def _check_chars(owner: str, ids: Tensor, lengths: Tensor, table: Tensor) -> None:
    """``ids`` ``(W, L)`` integer on the table's device, ``lengths`` ``(W,)`` integer (any device)."""
    check_tensor(owner, "ids", ids, [("words", None), ("length", None)], table, dtype="integer")
    check_tensor(owner, "lengths", lengths, [("words", ids.shape[0])], dtype="integer")
