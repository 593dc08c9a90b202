r"""SequenceTagger: a BiLSTM-CRF sequence labeller (Lample et al., 2016; Ma & Hovy, 2016) built
from the library's chain LSTM over DGL chain graphs.

Each token :math:`t` gets

.. math::
    x_t = [e_{\text{word}}(\text{lower}(w_t));\ e_{\text{case}}(w_t);\ \text{chars}(w_t)]

(a word vector looked up lowercased -- or as written, ``TaggedBatch.of(..., lowercase=False)`` --, a
small vector for its casing pattern, and the character BiLSTM or CNN of :mod:`treelstm.nn.characters`),
dropout, a bidirectional :class:`~treelstm.nn.chain.ChainLSTM` over the sentence, dropout, and a linear
layer giving tag scores :math:`P_t`. Options: word dropout (a token's word replaced by ``<unk>`` while
training, Lample et al. 2016) and variational dropout (one mask per sentence on the LSTM's input and
output, the same at every token: Gal & Ghahramani 2016, as Reimers & Gurevych 2017 recommend). A :class:`~treelstm.nn.crf.CRF` scores whole tag sequences from them; without
one (the softmax ablation), each token's tag is chosen on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from treelstm._dgl import dgl
from treelstm.nn._checks import type_name
from treelstm.nn.chain import ChainLSTM
from treelstm.nn.characters import char_ids
from treelstm.nn.crf import CRF
from treelstm.text.embeddings import Vocabulary
from treelstm.trees import chains
from treelstm.trees.schedule import LevelSchedule

__all__ = ["CASINGS", "casing", "TaggedBatch", "SequenceTagger"]

CASINGS = ("other", "numeric", "mainly_numeric", "all_lower", "all_upper", "initial_upper", "contains_digit")
"""Casing patterns of a word, in id order (:func:`casing`)."""


def casing(word: str) -> int:
    """The id of ``word``'s casing pattern in :data:`CASINGS`.

    Example:
        >>> [CASINGS[casing(w)] for w in ["1996", "1996-08-22", "lamb", "EU", "Peter", "2nd", "."]]
        ['numeric', 'mainly_numeric', 'all_lower', 'all_upper', 'initial_upper', 'contains_digit', 'other']
    """
    digits = sum(c.isdigit() for c in word)
    if word.isdigit():
        return 1
    if digits > len(word) / 2:
        return 2
    if digits:
        return 6
    if word.islower():
        return 3
    if word.isupper():
        return 4
    return 5 if word[:1].isupper() else 0


@dataclass(frozen=True)
class TaggedBatch:
    """Sentences collated for a :class:`SequenceTagger`.

    Attributes (``B`` sentences, ``N`` tokens, ``W`` distinct words):
        graph: the sentences as one batched DGLGraph of chains (sentence ``b``'s tokens are the
            consecutive nodes ``offset_b ..``), and ``schedule`` its level schedule.
        word_ids: ``(N,)`` vocabulary ids of the tokens (lowercased unless ``of(..., lowercase=False)``).
        casing: ``(N,)`` casing pattern ids.
        char_ids, char_lengths: ``(W, L)``, ``(W,)`` characters of the distinct words
            (:func:`~treelstm.nn.characters.char_ids`); ``word_of_token`` ``(N,)`` maps tokens to them.
        lengths: ``(B,)`` sentence lengths.
        tags: ``(N,)`` gold tag ids, or None.
    """

    graph: dgl.DGLGraph
    schedule: LevelSchedule
    word_ids: Tensor
    casing: Tensor
    char_ids: Tensor
    char_lengths: Tensor
    word_of_token: Tensor
    lengths: Tensor
    tags: Tensor | None = None

    HOST_FIELDS = ("char_lengths", "lengths")
    """Sizes the model reads on the host (to split and pad): they stay on the CPU, so reading them is no sync."""

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "TaggedBatch":
        """A copy with every tensor on ``device`` (the schedule's index tensors too, :meth:`LevelSchedule.to`)
        but the sizes of :attr:`HOST_FIELDS`; the DGL graph stays on the CPU, where it was built."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking), self.schedule.to(device))

    def pin_memory(self) -> "TaggedBatch":
        """A copy with every tensor but the host sizes in pinned host memory (for ``to(cuda,
        non_blocking=True)``; CUDA machines only): what a ``DataLoader(pin_memory=True)`` calls."""
        return self._map(Tensor.pin_memory, self.schedule.pin_memory())

    def _map(self, change, schedule: LevelSchedule) -> "TaggedBatch":
        changed = {f.name: change(getattr(self, f.name)) for f in fields(self)
                   if isinstance(getattr(self, f.name), Tensor) and f.name not in self.HOST_FIELDS}
        return replace(self, schedule=schedule, **changed)

    @classmethod
    def of(cls, sentences: Sequence[Sequence[str]], vocab: Vocabulary, tags: Sequence[Sequence[int]] | None = None,
           lowercase: bool = True):
        """Collate ``sentences`` (lists of tokens), looking their words up in ``vocab`` lowercased
        (``lowercase=False``: as written), with their ``tags`` ids if given."""
        if any(len(s) == 0 for s in sentences) or not sentences:
            raise ValueError("cannot tag an empty sentence")
        tokens = [token for sentence in sentences for token in sentence]
        words, word_of_token = np.unique(np.array(tokens, dtype=object), return_inverse=True)
        graph = chains([len(s) for s in sentences])
        ids, lengths = char_ids(list(words))
        return cls(
            graph,
            LevelSchedule.from_graph(graph),
            torch.tensor(vocab.encode(t.lower() for t in tokens) if lowercase else vocab.encode(tokens)),
            torch.tensor([casing(t) for t in tokens]),
            ids,
            lengths,
            torch.from_numpy(word_of_token.astype(np.int64)),
            torch.tensor([len(s) for s in sentences]),
            None if tags is None else torch.tensor([tag for sentence in tags for tag in sentence]),
        )

    def padded(self, flat: Tensor) -> tuple[Tensor, Tensor]:
        """Per-token rows ``(N, ...)`` as ``(B, max length, ...)`` zero-padded, and the ``(B, max length)`` mask."""
        padded = pad_sequence(flat.split(self.lengths.tolist()), batch_first=True)
        mask = torch.arange(padded.shape[1], device=flat.device) < self.lengths.to(flat.device)[:, None]
        return padded, mask

    def unpadded(self, padded: Tensor) -> Tensor:
        """The inverse of :meth:`padded`: ``(B, max length, ...)`` to the tokens' rows ``(N, ...)``. The
        rows to keep come from the lengths on the CPU (boolean-mask indexing on a device is a host sync)."""
        width = padded.shape[1]
        rows = (torch.arange(width) < self.lengths.cpu()[:, None]).flatten().nonzero().squeeze(1)
        return padded.flatten(0, 1).index_select(0, rows.to(padded.device, non_blocking=True))


class SequenceTagger(nn.Module):
    r"""BiLSTM-CRF tagger (see the module docstring).

    Args:
        embedding: the word table (looked up with lowercased tokens).
        num_tags: number of tags :math:`T`.
        hidden_size: LSTM states per direction.
        num_layers: stacked bidirectional layers.
        chars: a character encoder with an ``out_size`` (:class:`~treelstm.nn.characters.CharLSTM`
            or :class:`~treelstm.nn.characters.CharCNN`), or None for none.
        casing_dim: size of the casing-pattern vector (0: no casing features).
        dropout: dropout on the LSTM's input and on its output.
        word_dropout: while training, each token's word id is replaced by ``<unk>`` (id 1) with this
            probability (0: never, and no random numbers drawn).
        variational: ``dropout`` on the LSTM's input and output draws one mask per sentence, the same
            at each of its tokens (``(B, features)`` masks), instead of one per token.
        crf: the CRF over tag sequences, or None to choose each token's tag by softmax.
        fused: run the LSTM on torch's fused kernel (see :class:`~treelstm.nn.chain.ChainLSTM`).

    Example:
        >>> from treelstm.nn.characters import CharLSTM
        >>> vocab = Vocabulary(["peter", "blackburn"])
        >>> tagger = SequenceTagger(nn.Embedding(len(vocab), 50), num_tags=5, chars=CharLSTM(), crf=CRF(5))
        >>> batch = TaggedBatch.of([["Peter", "Blackburn"], ["BRUSSELS"]], vocab, tags=[[1, 2], [3]])
        >>> tagger.loss(batch).shape, tagger.decode(batch).shape
        (torch.Size([]), torch.Size([3]))
    """

    def __init__(
        self,
        embedding: nn.Embedding,
        num_tags: int,
        hidden_size: int = 100,
        num_layers: int = 1,
        chars: nn.Module | None = None,
        casing_dim: int = 0,
        dropout: float = 0.5,
        crf: CRF | None = None,
        fused: bool = True,
        word_dropout: float = 0.0,
        variational: bool = False,
    ):
        super().__init__()
        if not isinstance(embedding, nn.Embedding):
            raise TypeError(f"SequenceTagger: embedding must be a torch.nn.Embedding, got {type_name(embedding)}")
        if chars is not None and not isinstance(getattr(chars, "out_size", None), int):
            raise TypeError(f"SequenceTagger: chars must be a character encoder with an int out_size (CharLSTM, "
                            f"CharCNN) or None, got {type_name(chars)}")
        if crf is not None and not isinstance(crf, CRF):
            raise TypeError(f"SequenceTagger: crf must be a CRF(num_tags={num_tags}) or None, got {type_name(crf)}")
        if crf is not None and crf.num_tags != num_tags:
            raise ValueError(
                f"SequenceTagger: crf must be a CRF(num_tags={num_tags}) or None, got CRF(num_tags={crf.num_tags})"
            )
        if not 0 <= word_dropout < 1:
            raise ValueError(f"SequenceTagger: word_dropout must be in [0, 1), got {word_dropout!r}")
        self.embedding, self.chars, self.crf = embedding, chars, crf
        self.word_dropout, self.variational = word_dropout, variational
        self.casing = nn.Embedding(len(CASINGS), casing_dim) if casing_dim else None
        input_size = embedding.embedding_dim + casing_dim + (chars.out_size if chars is not None else 0)
        self.lstm = ChainLSTM(input_size, hidden_size, num_layers, bidirectional=True, dropout=dropout, fused=fused)
        self.dropout = nn.Dropout(dropout)
        self.scores = nn.Linear(2 * hidden_size, num_tags)

    def forward(self, batch: TaggedBatch) -> Tensor:
        """Tag scores :math:`P` ``(N, T)`` of every token, in the weights' dtype (float32 under mixed
        precision too: the CRF's sums over paths and the loss are computed in it)."""
        if not isinstance(batch, TaggedBatch):
            raise TypeError(f"SequenceTagger: batch must be a TaggedBatch (TaggedBatch.of(sentences, vocab)), "
                            f"got {type_name(batch)}")
        device = self.scores.weight.device
        word_ids = batch.word_ids.to(device)
        if self.word_dropout and self.training:
            word_ids = word_ids.masked_fill(torch.rand(word_ids.shape, device=device) < self.word_dropout, 1)
        features = [self.embedding(word_ids)]
        if self.casing is not None:
            features.append(self.casing(batch.casing.to(device)))
        if self.chars is not None:
            words = self.chars(batch.char_ids.to(device), batch.char_lengths)
            features.append(words.index_select(0, batch.word_of_token.to(device)))
        h, _ = self.lstm(batch.graph, self._drop(torch.cat(features, dim=1), batch), batch.schedule)
        return self.scores(self._drop(h, batch)).to(self.scores.weight.dtype)

    def _drop(self, x: Tensor, batch: TaggedBatch) -> Tensor:
        """Dropout on the tokens' rows ``x`` ``(N, D)``: per token, or with ``variational`` one
        ``(B, D)`` mask per sentence repeated at its tokens."""
        if not (self.variational and self.training and self.dropout.p):
            return self.dropout(x)
        mask = F.dropout(x.new_ones(len(batch.lengths), x.shape[1]), self.dropout.p)
        sentence = torch.repeat_interleave(torch.arange(len(batch.lengths)), batch.lengths).to(x.device)
        return x * mask.index_select(0, sentence)

    def loss(self, batch: TaggedBatch) -> Tensor:
        """Negative log-likelihood of the gold tags, summed over each sentence, averaged over sentences."""
        if batch.tags is None:
            raise ValueError("the batch has no gold tags")
        scores, tags = self(batch), batch.tags.to(self.scores.weight.device)
        if self.crf is None:
            return F.cross_entropy(scores, tags, reduction="sum") / len(batch.lengths)
        emissions, mask = batch.padded(scores)
        return -self.crf(emissions, batch.padded(tags)[0], mask).mean()

    def decode(self, batch: TaggedBatch) -> Tensor:
        """The best tag ids ``(N,)``: Viterbi under the CRF, else each token's most likely tag."""
        scores = self(batch)
        if self.crf is None:
            return scores.argmax(dim=1)
        emissions, mask = batch.padded(scores)
        return batch.unpadded(self.crf.decode(emissions, mask)[0])

    def extra_repr(self) -> str:
        decoder = "crf" if self.crf is not None else "softmax"
        return f"num_tags={self.scores.out_features}, decoder={decoder}"
