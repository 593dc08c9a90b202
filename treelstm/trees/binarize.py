"""A binary constituency tree over a dependency parse, crossing arcs lifted first."""

from __future__ import annotations

import numpy as np

from treelstm.trees.schedule import heights
from treelstm.trees.tree import Tree, _make_tree

__all__ = ["binarize"]


def binarize(tree: Tree) -> Tree:
    """A binary constituency tree over the words of a dependency tree: an approximation of a
    constituency parse, for models trained on binary trees (SST's) when only a dependency parse
    (spaCy's) is at hand.

    Every word heads a phrase that takes its dependents one at a time, nearest first: first those on
    its right, then those on its left, so a verb joins its object before its subject,
    ``(subject (verb object))``. Arcs that cross others (non-projective) are first lifted to their
    head's head until none cross (Nivre & Nilsson 2005), so every phrase covers consecutive words.
    Meant for sentence-sized trees (the crossing check is quadratic in the sentence length per arc).

    Returns:
        A :class:`Tree` in :func:`from_ptb`'s node order: the ``n`` words as leaves ``0..n-1``, then
        ``n - 1`` internal nodes without words, the root last; no labels.

    Example:
        >>> from treelstm.trees import from_parents
        >>> tree = binarize(from_parents("2 3 0 3", ["the", "cat", "sat", "down"]))  # the <- cat <- sat -> down
        >>> tree.parents.tolist()  # (4: the cat) (5: sat down) (6: root)
        [4, 4, 5, 5, 6, 6, -1]
    """
    if any(token is None for token in tree.tokens):
        raise ValueError("binarize takes a dependency tree (a word at every node); this one has nodes without words")
    heads = _lift_crossing_arcs(tree.parents)
    n = tree.num_nodes
    parents = np.full(2 * n - 1, -1, dtype=np.int64)
    top = np.arange(n)  # the node of each word's phrase so far
    new = n
    for h in np.argsort(heights(heads), kind="stable"):  # dependents' phrases are finished first
        dependents = np.flatnonzero(heads == h)
        for d in [*dependents[dependents > h], *dependents[dependents < h][::-1]]:
            parents[top[h]] = parents[top[d]] = new
            top[h], new = new, new + 1
    return _make_tree(parents, tree.tokens, None, 2, "node", 0)


def _lift_crossing_arcs(heads: np.ndarray) -> np.ndarray:
    """``heads`` with every crossing arc lifted (shortest first) to its head's head until none cross."""
    heads = heads.copy()
    while crossing := [d for d in np.flatnonzero(heads >= 0).tolist() if not _covers(heads, int(heads[d]), d)]:
        d = min(crossing, key=lambda d: abs(d - heads[d]))
        heads[d] = heads[heads[d]]
    return heads


def _covers(heads: np.ndarray, h: int, d: int) -> bool:
    """Whether every word strictly between ``h`` and ``d`` descends from ``h`` (the arc crosses no other)."""
    for k in range(min(h, d) + 1, max(h, d)):
        ancestor = k
        while ancestor >= 0 and ancestor != h:
            ancestor = heads[ancestor]
        if ancestor != h:
            return False
    return True
