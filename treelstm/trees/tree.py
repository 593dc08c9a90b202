"""The tree type: a parent array, child slots, tokens and labels, with validation and subtree helpers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from treelstm.trees.schedule import find_roots, heights, sibling_ranks

if TYPE_CHECKING:
    from treelstm._dgl import dgl

__all__ = ["Tree", "token_spans", "subtree_reduce"]


@dataclass(frozen=True, eq=False)
class Tree:
    """A rooted tree as plain data.

    Attributes:
        parents: ``(n,)`` int64, the 0-based parent of each node, ``-1`` for the root.
        slots: ``(n,)`` int64, each node's position among its parent's children (0 for the root).
        tokens: per node, its word, or ``None`` for a node without one (internal nodes of
            a constituency tree).
        labels: per node, its label as written in the source (e.g. SST's ``"0"``..``"4"``),
            or ``None`` when the source has no labels.
    """

    parents: np.ndarray
    slots: np.ndarray
    tokens: tuple[str | None, ...]
    labels: tuple[str | None, ...] | None = None

    @classmethod
    def of(cls, parents, slots, tokens=(), labels=None) -> "Tree":
        """A tree from stored arrays (e.g. a dataset row written from ``tree.parents``/``tree.slots``),
        without validation; ``tokens`` covers the first nodes, the rest get ``None``."""
        parents = np.asarray(parents, dtype=np.int64)
        tokens = tuple(tokens) + (None,) * (len(parents) - len(tokens))
        return cls(parents, np.asarray(slots, dtype=np.int64), tokens, None if labels is None else tuple(labels))

    @property
    def num_nodes(self) -> int:
        return len(self.parents)

    @property
    def root(self) -> int:
        return int(np.flatnonzero(self.parents < 0)[0])

    @cached_property
    def graph(self) -> dgl.DGLGraph:
        """The DGLGraph, edges child -> parent, ``edata["slot"]`` the child's slot; edge ids
        in (parent, slot) order, so DGL's mailboxes list each node's children in order (see :func:`batch`)."""
        from treelstm.trees.batching import batch

        return batch([self])


def _check_tree(parents: np.ndarray, name: str, base: int) -> None:
    """Raise ValueError unless ``parents`` (0-based, -1 = root, each in -1..n-1: the builders check
    that) is one rooted tree.

    ``name`` and ``base`` say how positions are reported ("position 3", 1-based, ...).
    """
    if len(parents) == 0:
        raise ValueError("empty tree: there are no nodes")
    roots = np.flatnonzero(parents == -1)
    if roots.size == 0:
        raise ValueError(f"no root: no {name} has parent {base - 1}")
    if roots.size > 1:
        where = ", ".join(str(int(r) + base) for r in roots[:5])
        raise ValueError(f"several roots: {name}s {where} all have parent {base - 1}")
    stuck = np.flatnonzero(find_roots(parents) != roots[0])
    if stuck.size:
        raise ValueError(f"cycle: {name} {int(stuck[0]) + base} never reaches the root")


def subtree_reduce(
    parents: np.ndarray, values: np.ndarray, ufunc: np.ufunc, height: np.ndarray | None = None
) -> np.ndarray:
    """Fold ``values`` over every subtree with ``ufunc`` (e.g. ``np.minimum``, ``np.add``):
    ``out[j] = ufunc.reduce(values[k] for k in subtree(j))``, lowest nodes first.
    ``height`` (:func:`~treelstm.trees.schedule.heights` of ``parents``) saves recomputing it."""
    out = np.array(values, copy=True)
    height = heights(parents) if height is None else height
    for h in range(int(height.max())):
        nodes = np.flatnonzero((height == h) & (parents >= 0))
        ufunc.at(out, parents[nodes], out[nodes])
    return out


def _slots(parents: np.ndarray) -> np.ndarray:
    """Rank each node among its siblings by the smallest node index in its subtree."""
    smallest = subtree_reduce(parents, np.arange(len(parents)), np.minimum)
    children = np.flatnonzero(parents >= 0)
    slots = np.zeros(len(parents), dtype=np.int64)
    slots[children] = sibling_ranks(parents[children], smallest[children])
    return slots


def token_spans(tree: Tree) -> np.ndarray:
    """``(n, 3)``: for each node, the first and last token index in its subtree and how many
    tokens it holds (the span is contiguous when ``last - first + 1 == count``)."""
    has_token = np.array([t is not None for t in tree.tokens])
    index, height = np.arange(tree.num_nodes), heights(tree.parents)
    first = subtree_reduce(tree.parents, np.where(has_token, index, tree.num_nodes), np.minimum, height)
    last = subtree_reduce(tree.parents, np.where(has_token, index, -1), np.maximum, height)
    count = subtree_reduce(tree.parents, has_token.astype(np.int64), np.add, height)
    return np.stack([first, last, count], axis=1)


def _make_tree(parents, tokens, labels, max_children, name, base) -> Tree:
    parents = np.asarray(parents, dtype=np.int64)
    _check_tree(parents, name, base)
    if max_children is not None:
        counts = np.bincount(parents[parents >= 0], minlength=len(parents))
        wide = np.flatnonzero(counts > max_children)
        if wide.size:
            k = int(wide[0])
            raise ValueError(
                f"{name} {k + base} has {counts[k]} children; at most {max_children} allowed"
            )
    return Tree.of(parents, _slots(parents), tokens, labels)
