"""Many trees as one DGL graph (edges child -> parent, numbered in (parent, slot) order)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import torch

from treelstm._dgl import dgl

if TYPE_CHECKING:
    from treelstm.trees.tree import Tree

__all__ = ["batch", "chains"]


def chains(lengths: Sequence[int]) -> dgl.DGLGraph:
    """The batched graph of chains of the given lengths, built without a Tree per chain.

    Equal to ``batch([chain(n) for n in lengths])``: chain ``b`` occupies the nodes
    ``offset_b .. offset_b + n_b - 1`` with edges ``t - 1 -> t``, numbered by parent (each
    node has at most one child, so edge-id order is (parent, slot) order as in :func:`batch`).
    For many short sequences (the characters of every word in a batch).

    Example:
        >>> chains([3, 1, 2]).edges()
        (tensor([0, 1, 4]), tensor([1, 2, 5]))
    """
    given = np.asarray(lengths)
    if given.ndim != 1 or (given.size and given.dtype.kind not in "iu"):
        raise TypeError(
            f"trees.chains: lengths must be a sequence of ints, got dtype {given.dtype}, shape {given.shape}"
        )
    sizes = given.astype(np.int64)
    if sizes.size == 0:
        raise ValueError("cannot batch zero chains")
    if sizes.min() < 1:
        raise ValueError(f"empty tree: chain {int(np.argmin(sizes))} has length {int(sizes.min())}")
    last = np.cumsum(sizes) - 1
    child = np.setdiff1d(np.arange(last[-1] + 1), last, assume_unique=True)
    graph = dgl.graph((torch.from_numpy(child), torch.from_numpy(child + 1)), num_nodes=int(last[-1] + 1))
    graph.edata["slot"] = torch.zeros(len(child), dtype=torch.int64)
    graph.set_batch_num_nodes(torch.from_numpy(sizes))
    graph.set_batch_num_edges(torch.from_numpy(sizes - 1))
    return graph


def batch(trees: Iterable[Tree]) -> dgl.DGLGraph:
    """One batched DGLGraph for many trees, built in one go.

    Equivalent to ``dgl.batch([t.graph for t in trees])`` (node ``i`` of tree ``b`` is
    node ``offset_b + i``) but without building a graph per tree.

    Edges are numbered in (parent, slot) order, so edge-id order is child order: DGL hands a
    reduce function its messages in edge-id order, hence ``nodes.mailbox[...][:, l]`` is
    every node's child in slot ``l`` (the left child first in a binary tree), as
    DGL-style message-passing code (e.g. DGL's own Tree-LSTM example cell) expects.
    """
    trees = list(trees)
    if not trees:
        raise ValueError("cannot batch zero trees")
    for k, tree in enumerate(trees):
        if not (hasattr(tree, "parents") and hasattr(tree, "slots")):  # a Tree (not imported: tree.py imports us)
            raise TypeError(f"trees.batch: trees must be Tree objects (treelstm.trees.Tree), got {type(tree).__name__} "
                            f"at index {k}")
    sizes = np.array([t.num_nodes for t in trees], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    parents = np.concatenate([t.parents for t in trees])
    slots = np.concatenate([t.slots for t in trees])
    shifted = parents + np.repeat(offsets, sizes)
    child = np.flatnonzero(parents >= 0)
    child = child[np.lexsort((slots[child], shifted[child]))]  # edge ids in (parent, slot) order
    graph = dgl.graph(
        (torch.from_numpy(child), torch.from_numpy(shifted[child])), num_nodes=int(sizes.sum())
    )
    graph.edata["slot"] = torch.from_numpy(slots[child])
    graph.set_batch_num_nodes(torch.from_numpy(sizes))
    graph.set_batch_num_edges(torch.from_numpy(sizes - 1))
    return graph
