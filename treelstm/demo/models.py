"""The four models of the long-dependency demonstration, behind one interface.

Each is an embedding, an encoder and a linear classifier over one state per sentence: the last
token's for the chain models, the root's for the Tree-LSTM (in :mod:`treelstm.demo.agreement`
both are the verb's slot). The encoder is split out (:meth:`AgreementModel.encode`) so the
gradient reaching the first token's input embedding can be measured
(:mod:`treelstm.demo.gradients`).

* ``tanh RNN`` -- ``torch.nn.RNN`` (Elman): :math:`h_t = \\tanh(W x_t + U h_{t-1} + b)`; the library has
  no cell for it.
* ``LSTM`` -- :class:`treelstm.ChainLSTM` (one layer of :class:`~treelstm.ChainLSTMCell`).
* ``GRU`` -- :class:`~treelstm.ChildSumTreeGRUCell` over chain graphs: with one child, the
  predecessor, it is the GRU of Cho et al. (2014), with the reset gate applied before
  :math:`U_h` (``torch.nn.GRU`` applies it after).
* ``Tree-LSTM`` -- :class:`~treelstm.ChildSumTreeLSTMCell` over each sentence's dependency tree.

All weights start Uniform(-1/sqrt(H), 1/sqrt(H)) (``torch.nn.RNN``'s default and the cells' own),
forget-gate biases included: no model is given a head start.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_sequence

from treelstm import trees
from treelstm._dgl import dgl
from treelstm.demo.agreement import VOCABULARY, Example
from treelstm.nn.cells import ChildSumTreeGRUCell, ChildSumTreeLSTMCell
from treelstm.nn.chain import ChainLSTM
from treelstm.nn.encoder import TreeLSTM
from treelstm.trees.schedule import LevelSchedule

__all__ = ["AgreementBatch", "AgreementModel", "MODELS"]


@dataclass(frozen=True, eq=False)
class AgreementBatch:
    """``B`` sentences as one flat sequence of ``N`` tokens (sentence ``b`` occupies the rows
    ``first[b] .. last[b]``), with their chain and tree graphs built on demand.

    Attributes:
        ids: ``(N,)`` int64 token ids.
        lengths: ``(B,)`` int64 sentence lengths.
        labels: ``(B,)`` int64 subjects' numbers.
        examples: the sentences.
    """

    ids: Tensor
    lengths: Tensor
    labels: Tensor
    examples: tuple[Example, ...]

    @classmethod
    def of(cls, examples: list[Example]) -> "AgreementBatch":
        return cls(
            torch.from_numpy(np.concatenate([e.ids for e in examples])),
            torch.tensor([len(e.ids) for e in examples]),
            torch.tensor([e.label for e in examples]),
            tuple(examples),
        )

    @property
    def last(self) -> Tensor:
        """``(B,)`` row of each sentence's last token, the verb's slot (its tree's root)."""
        return self.lengths.cumsum(0) - 1

    @property
    def first(self) -> Tensor:
        """``(B,)`` row of each sentence's first token, the subject."""
        return self.last - self.lengths + 1

    @cached_property
    def chains(self) -> tuple[dgl.DGLGraph, LevelSchedule]:
        """The sentences as chains (edges ``t - 1 -> t``) and their schedule, built once per batch."""
        graph = trees.chains(self.lengths.tolist())
        return graph, LevelSchedule.from_graph(graph)

    @cached_property
    def trees(self) -> tuple[dgl.DGLGraph, LevelSchedule]:
        """The sentences' dependency trees (edges child -> head) and their schedule."""
        graph = trees.batch([e.tree for e in self.examples])
        return graph, LevelSchedule.from_graph(graph)


class TanhRNN(nn.Module):
    """``torch.nn.RNN`` over the flat tokens: ``(N, E) -> (B, H)`` last states."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, nonlinearity="tanh")

    def forward(self, x: Tensor, batch: AgreementBatch) -> Tensor:
        _, h_n = self.rnn(pack_sequence(x.split(batch.lengths.tolist()), enforce_sorted=False))
        return h_n[0]


class ChainLSTMEncoder(nn.Module):
    """:class:`treelstm.ChainLSTM` over the chain graph: ``(N, E) -> (B, H)`` last states."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.lstm = ChainLSTM(input_size, hidden_size)

    def forward(self, x: Tensor, batch: AgreementBatch) -> Tensor:
        graph, schedule = batch.chains
        return self.lstm(graph, x, schedule)[1][0][0]


class CellEncoder(nn.Module):
    """A cell run by :class:`treelstm.TreeLSTM` over the chain or the tree graph: ``(N, E) -> (B, H)``,
    the state of each sentence's last token (for the trees: the root)."""

    def __init__(self, cell: nn.Module, graph: str):
        super().__init__()
        self.encoder, self.graph = TreeLSTM(cell), graph

    def forward(self, x: Tensor, batch: AgreementBatch) -> Tensor:
        graph, schedule = getattr(batch, self.graph)
        return self.encoder(graph, x, schedule).h.index_select(0, batch.last)


MODELS = {
    "tanh RNN": TanhRNN,
    "LSTM": ChainLSTMEncoder,
    "GRU": lambda e, h: CellEncoder(ChildSumTreeGRUCell(e, h), "chains"),
    "Tree-LSTM": lambda e, h: CellEncoder(ChildSumTreeLSTMCell(e, h), "trees"),
}


class AgreementModel(nn.Module):
    """Embedding ``(V, E)`` -> encoder -> ``(B, H)`` -> linear -> ``(B, 2)`` logits (singular, plural).

    Args:
        kind: a key of :data:`MODELS`.
        embedding_size: ``E``.
        hidden_size: ``H``.
    """

    def __init__(self, kind: str, embedding_size: int, hidden_size: int):
        super().__init__()
        if kind not in MODELS:
            raise ValueError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")
        self.kind = kind
        self.embedding = nn.Embedding(len(VOCABULARY), embedding_size)
        self.encoder = MODELS[kind](embedding_size, hidden_size)
        self.classifier = nn.Linear(hidden_size, 2)

    def encode(self, x: Tensor, batch: AgreementBatch) -> Tensor:
        """Embedded tokens ``(N, E)`` -> the states the classifier reads, ``(B, H)``."""
        return self.encoder(x, batch)

    def forward(self, batch: AgreementBatch) -> Tensor:
        return self.classifier(self.encode(self.embedding(batch.ids), batch))
