"""A batch of trees ready for a model: one graph, its level schedule, token ids, root rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from treelstm._dgl import dgl
from treelstm.text.embeddings import Vocabulary
from treelstm.trees import Tree, batch
from treelstm.trees.schedule import LevelSchedule

__all__ = ["TreeBatch"]


@dataclass(frozen=True)
class TreeBatch:
    """Many trees collated once: everything the encoder needs, computed up front.

    Attributes:
        graph: the batched DGLGraph (edges child -> parent).
        schedule: its :class:`~treelstm.trees.schedule.LevelSchedule`.
        token_ids: ``(N,)`` vocabulary id of each node's word, 0 (``<pad>``) for nodes without one.
        roots: ``(B,)`` the root node of each tree, in batch order.
        word_nodes: ``(M,)`` the nodes that have a word, or ``None`` when every node has one
            (the encoder then embeds and projects only those ``M`` nodes).
        words_at_leaves: whether every node of ``word_nodes`` is a leaf (constituency trees), told
            on the CPU at collate time so that the encoder need not read a device tensor.
    """

    graph: dgl.DGLGraph
    schedule: LevelSchedule
    token_ids: torch.Tensor
    roots: torch.Tensor
    word_nodes: torch.Tensor | None = None
    words_at_leaves: bool = False

    @classmethod
    def of(cls, trees: Sequence[Tree], vocab: Vocabulary) -> "TreeBatch":
        graph = batch(trees)
        tokens = [token for tree in trees for token in tree.tokens]
        ids = [vocab[token] if token is not None else 0 for token in tokens]
        has_word = np.fromiter((token is not None for token in tokens), dtype=bool, count=len(tokens))
        word_nodes = None if has_word.all() else torch.from_numpy(np.flatnonzero(has_word))
        sizes = np.fromiter((tree.num_nodes for tree in trees), dtype=np.int64, count=len(trees))
        roots = np.r_[0, np.cumsum(sizes)[:-1]] + np.fromiter((t.root for t in trees), np.int64, len(trees))
        schedule = LevelSchedule.from_graph(graph)
        at_leaves = word_nodes is not None and not bool(schedule.level.index_select(0, word_nodes).any())
        return cls(graph, schedule, torch.tensor(ids), torch.from_numpy(roots), word_nodes, at_leaves)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "TreeBatch":
        """A copy with every tensor on ``device``: token ids, roots, word nodes and the schedule's index
        tensors (:meth:`LevelSchedule.to`). The DGL graph stays where it was built (the CPU): the
        encoder reads the schedule, not the graph."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking), self.schedule.to(device))

    def pin_memory(self) -> "TreeBatch":
        """A copy with every tensor in pinned host memory (for ``to(cuda, non_blocking=True)``; CUDA machines
        only): what a ``DataLoader(pin_memory=True)`` calls."""
        return self._map(torch.Tensor.pin_memory, self.schedule.pin_memory())

    def _map(self, change, schedule: LevelSchedule) -> "TreeBatch":
        return replace(self, schedule=schedule, token_ids=change(self.token_ids), roots=change(self.roots),
                       word_nodes=None if self.word_nodes is None else change(self.word_nodes))

    @property
    def num_trees(self) -> int:
        return len(self.roots)
