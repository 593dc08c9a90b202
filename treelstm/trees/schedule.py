"""The level schedule of a batch of trees: which nodes to compute together, and their children.

A node's *level* is its height: leaves are level 0 and a parent is one level above its
highest child, so every node's children are complete before it (the topological frontiers
of the graph, as ``dgl.topological_nodes_generator`` gives them). The schedule is computed
once per batch, in vectorised numpy, and only consumed by the encoder.

Everything is laid out in *level order*: nodes sorted by (level, node id), so level ``l``
occupies the rows ``offsets[l]:offsets[l + 1]`` of any level-ordered tensor, and the edges
``edge_offsets[l]:edge_offsets[l + 1]`` are those whose parent is at level ``l``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from treelstm._dgl import dgl

__all__ = ["LevelSchedule", "find_roots", "heights", "sibling_ranks"]


@dataclass(frozen=True, eq=False)
class LevelSchedule:
    """Level-by-level plan for computing a batch of trees.

    Attributes (``N`` nodes, ``E`` edges, ``L`` levels; index tensors are int64):
        order: ``(N,)`` node ids in level order.
        position: ``(N,)`` each node's row in level order (the inverse of ``order``).
        offsets: ``L + 1`` row offsets of the levels in level order.
        child: ``(E,)`` level-order row of each edge's child, edges grouped by their
            parent's level and sorted by (parent, slot).
        parent: ``(E,)`` row of each edge's parent *within its level* (``0..size - 1``).
        slot: ``(E,)`` the child's position among its parent's children.
        edge_offsets: ``L + 1`` offsets of each level's edges in ``child``/``parent``/``slot``.
        level: ``(N,)`` each node's level, by node id.
        parent_of: ``(N,)`` each node's parent id, ``-1`` for roots.
        root_of: ``(N,)`` the root of each node's tree.
        max_children: the largest number of children of any node.
    """

    order: torch.Tensor
    position: torch.Tensor
    offsets: tuple[int, ...]
    child: torch.Tensor
    parent: torch.Tensor
    slot: torch.Tensor
    edge_offsets: tuple[int, ...]
    level: torch.Tensor
    parent_of: torch.Tensor
    root_of: torch.Tensor
    max_children: int
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def num_nodes(self) -> int:
        return self.offsets[-1]

    @property
    def num_levels(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_graph(cls, graph: dgl.DGLGraph) -> "LevelSchedule":
        """The schedule of a (batched) DGLGraph whose edges go child -> parent.

        Child slots come from ``graph.edata["slot"]`` (set by :mod:`treelstm.trees`);
        without it, children are ranked by node id.
        """
        child, parent = (t.numpy() for t in graph.edges())
        slot = graph.edata["slot"].numpy() if "slot" in graph.edata else None
        return cls.from_edges(graph.num_nodes(), child, parent, slot)

    @classmethod
    def from_edges(
        cls, num_nodes: int, child: np.ndarray, parent: np.ndarray, slot: np.ndarray | None = None
    ) -> "LevelSchedule":
        """The schedule of a forest given as edges ``child[e] -> parent[e]``.

        Raises:
            ValueError: for an empty graph, a node with several parents, or a cycle.
        """
        n = int(num_nodes)
        if n == 0:
            raise ValueError("empty graph: there are no nodes to compute")
        child, parent = np.asarray(child, np.int64), np.asarray(parent, np.int64)
        parents_per_node = np.bincount(child, minlength=n)
        if parents_per_node.max(initial=0) > 1:
            k = int(np.argmax(parents_per_node))
            raise ValueError(f"not a forest: node {k} has {parents_per_node[k]} parents")
        parent_of = np.full(n, -1, dtype=np.int64)
        parent_of[child] = parent
        if slot is None:
            slot = sibling_ranks(parent, child)
        slot = np.asarray(slot, np.int64)
        children = np.bincount(parent, minlength=n)

        level = heights(parent_of)
        order = np.argsort(level, kind="stable")
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        level_sizes = np.bincount(level)
        offsets = np.r_[0, np.cumsum(level_sizes)]

        edges = np.lexsort((slot, position[parent]))  # by parent row, then slot
        edge_level = level[parent[edges]]
        edge_offsets = np.r_[0, np.cumsum(np.bincount(edge_level, minlength=len(level_sizes)))]
        as_tensor = torch.from_numpy
        return cls(
            order=as_tensor(order),
            position=as_tensor(position),
            offsets=tuple(offsets.tolist()),
            child=as_tensor(position[child[edges]]),
            parent=as_tensor(position[parent[edges]] - offsets[edge_level]),
            slot=as_tensor(slot[edges]),
            edge_offsets=tuple(edge_offsets.tolist()),
            level=as_tensor(level),
            parent_of=as_tensor(parent_of),
            root_of=as_tensor(find_roots(parent_of)),
            max_children=int(children.max(initial=0)),
        )

    def to(self, device: torch.device | str) -> "LevelSchedule":
        """This schedule with its index tensors on ``device`` (one copy, cached per device)."""
        device = torch.device(device)
        if self.order.device == device:
            return self
        if device not in self._cache:
            self._cache[device] = self._with_indexes(lambda indexes: indexes.to(device, non_blocking=True))
        return self._cache[device]

    def pin_memory(self) -> "LevelSchedule":
        """This schedule with its index tensors in pinned (page-locked) host memory, from which
        :meth:`to` a CUDA device copies asynchronously (CUDA machines only)."""
        return self._with_indexes(torch.Tensor.pin_memory)

    def _with_indexes(self, change) -> "LevelSchedule":
        """A copy whose index tensors are ``change`` of them, concatenated: one copy, not five."""
        names = ("order", "position", "child", "parent", "slot")
        parts = [getattr(self, name) for name in names]
        changed = change(torch.cat(parts)).split([len(p) for p in parts])
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "_cache"}
        return LevelSchedule(**fields | dict(zip(names, changed)))

    def reverse(self) -> "LevelSchedule":
        """The schedule of the same graph with every edge reversed (cached).

        Only a forest of chains stays a forest when reversed: this is how a backward LSTM
        reads a sentence.
        """
        if "reverse" not in self._cache:
            child = np.flatnonzero(self.parent_of.numpy() >= 0)
            self._cache["reverse"] = LevelSchedule.from_edges(self.num_nodes, self.parent_of.numpy()[child], child)
        return self._cache["reverse"]


def sibling_ranks(parent: np.ndarray, key: np.ndarray) -> np.ndarray:
    """For edges to ``parent``, each edge's rank among its siblings, ordered by ``key``."""
    by_parent = np.lexsort((key, parent))
    group_start = np.r_[0, np.flatnonzero(np.diff(parent[by_parent])) + 1]
    first = np.repeat(group_start, np.diff(np.r_[group_start, len(by_parent)]))
    rank = np.empty(len(parent), dtype=np.int64)
    rank[by_parent] = np.arange(len(parent)) - first
    return rank


def find_roots(parent_of: np.ndarray) -> np.ndarray:
    """The root of each node (``parent_of[root] == -1``), by pointer doubling: after ``k``
    rounds each node points ``2**k`` steps up. A node on a cycle ends on the cycle."""
    up = np.where(parent_of < 0, np.arange(len(parent_of)), parent_of)
    for _ in range(len(parent_of).bit_length()):
        up = up[up]
    return up


def heights(parent_of: np.ndarray) -> np.ndarray:
    """Each node's height (leaves 0), peeling finished nodes frontier by frontier."""
    n = len(parent_of)
    level = np.full(n, -1, dtype=np.int64)
    pending = np.bincount(parent_of[parent_of >= 0], minlength=n)  # children not yet computed
    frontier = np.flatnonzero(pending == 0)
    height = 0
    while frontier.size:
        level[frontier] = height
        ups = parent_of[frontier]
        ups, counts = np.unique(ups[ups >= 0], return_counts=True)
        pending[ups] -= counts
        frontier = ups[pending[ups] == 0]
        height += 1
    if (level < 0).any():
        raise ValueError(f"not a forest: node {int(np.argmax(level < 0))} is on a cycle")
    return level
