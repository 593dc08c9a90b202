"""Trees as plain data and as DGL graphs: builders, validation and batching.

A tree is kept as plain data (:class:`Tree`: a parent array, child slots, tokens, labels)
so that datasets stay serialisable; it becomes a DGLGraph with edges child -> parent on
request (:attr:`Tree.graph`) or, for many trees at once, with :func:`batch`.

Node order (the row order of every per-node tensor):

* :func:`from_parents` -- node ``i`` is position ``i + 1`` of the parent line (token ``i``
  of a dependency tree; the first ``n`` nodes are the leaves of a ``.cparents`` line);
* :func:`from_ptb` -- the ``n`` leaves first, left to right (node ``i`` is token ``i``),
  then the internal nodes in post-order, so the root is the last node;
* :func:`from_spacy` -- node ``i`` is token ``i`` of the span;
* :func:`chain` -- node ``t`` is token ``t``.

Every builder validates its input and raises :class:`ValueError` naming what is wrong and
where (a 1-based position of the parent line, a token index, or a character offset).

Child slots: ``slot[k]`` is node ``k``'s position among its parent's children, used by the
N-ary cell (``U_l`` for child position ``l``). Children are ranked left to right by the
smallest node index in their subtree, which for the orders above is sentence order. The
graphs number their edges in (parent, slot) order, so DGL message passing delivers every
node's children in slot order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import torch

from treelstm._dgl import dgl
from treelstm.schedule import find_roots, heights, sibling_ranks

if TYPE_CHECKING:  # spaCy is only needed by from_spacy's caller
    from spacy.tokens import Doc, Span

__all__ = ["Tree", "from_parents", "from_ptb", "from_spacy", "binarize", "chain", "chains", "batch", "token_spans",
           "subtree_reduce"]


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
    ``height`` (:func:`~treelstm.schedule.heights` of ``parents``) saves recomputing it."""
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


def from_parents(
    parents: Sequence[int] | str,
    tokens: Sequence[str] | None = None,
    *,
    max_children: int | None = None,
) -> Tree:
    """Build a tree from a treelstm ``.parents`` / ``.cparents`` line.

    Args:
        parents: per position, its 1-based parent (``0`` = root), as ints or as the
            whitespace-separated line itself, e.g. ``"2 0 2"``.
        tokens: words of the first ``len(tokens)`` nodes (a ``.cparents`` line has its
            ``n`` leaves first, so pass the ``n`` tokens of the ``.toks`` line).
        max_children: reject nodes with more children (``2`` for a binary tree).

    Returns:
        A :class:`Tree`; node ``i`` is position ``i + 1`` of the line.

    Example:
        >>> tree = from_parents("2 0 2", ["a", "dog", "barks"])
        >>> tree.graph.edges()
        (tensor([0, 2]), tensor([1, 1]))
    """
    if isinstance(parents, str):
        fields = parents.split()
        for k, field in enumerate(fields):
            if not re.fullmatch(r"-?[0-9]+", field):
                raise ValueError(f"position {k + 1}: {field!r} is not an integer parent")
        parents = [int(f) for f in fields]
    for k, head in enumerate(parents):
        if not 0 <= head <= len(parents):
            raise ValueError(f"position {k + 1} has parent {head}, outside 0..{len(parents)}")
    tokens = list(tokens or [])
    if len(tokens) > len(parents):
        raise ValueError(f"{len(tokens)} tokens for {len(parents)} parents")
    return _make_tree(np.asarray(parents, dtype=np.int64) - 1, tokens, None, max_children, "position", 1)


_PTB_PIECE = re.compile(r"\(|\)|[^ \t\r\n()]+")  # words may hold other spaces: SST has "2\xa01\/2"


def from_ptb(text: str, *, binary: bool = True) -> Tree:
    """Build a tree from one PTB-bracketed tree, as in SST: ``(3 (2 It) (4 (2 's) (4 great)))``.

    Every bracket is ``(label child ...)``; a leaf is ``(label word)``. Leaves carry a
    token and every node its label. Pieces are separated by ASCII whitespace only (SST has
    a word with a no-break space in it); words are kept as written, PTB escapes such as
    ``-LRB-`` and ``\\/`` included.

    Args:
        text: one bracketed tree.
        binary: require every internal node to have exactly two children (SST's trees).

    Returns:
        A :class:`Tree`: the ``n`` leaves first in sentence order, then the internal nodes in
        post-order (the root last); ``labels`` holds every node's label as written.

    Raises:
        ValueError: naming the character offset of the problem (unbalanced brackets, a
            missing label, an empty or non-binary node, text after the root, ...).
    """
    leaves: list[tuple[str, str]] = []  # (token, label)
    internal: list[tuple[str, list]] = []  # (label, children coded ("leaf", i) or ("node", j))
    stack: list[tuple[int, str | None, list]] = []  # (offset of "(", label, children)
    root = None
    for match in _PTB_PIECE.finditer(text):
        piece, at = match.group(), match.start()
        if root is not None and piece != ")":
            raise ValueError(f"offset {at}: text after the end of the tree: {piece!r}")
        if piece == "(":
            if stack and stack[-1][1] is None:
                raise ValueError(f"offset {stack[-1][0]}: bracket without a label")
            stack.append((at, None, []))
        elif piece == ")":
            if not stack:
                raise ValueError(f"offset {at}: ')' closes no open bracket")
            start, label, children = stack.pop()
            if label is None:
                raise ValueError(f"offset {start}: bracket without a label")
            node = _ptb_node(start, label, children, leaves, internal, binary)
            if stack:
                stack[-1][2].append(node)
            else:
                root = node
        elif not stack:
            raise ValueError(f"offset {at}: {piece!r} outside any bracket")
        elif stack[-1][1] is None:
            stack[-1] = (stack[-1][0], piece, stack[-1][2])
        else:
            stack[-1][2].append(("word", piece, at))
    if stack:
        raise ValueError(f"offset {stack[-1][0]}: '(' is never closed")
    if root is None:
        raise ValueError("empty tree: no brackets in the text")
    n = len(leaves)
    parents = np.full(n + len(internal), -1, dtype=np.int64)
    for j, (_, children) in enumerate(internal):
        for kind, index in children:
            parents[index if kind == "leaf" else n + index] = n + j
    tokens = [token for token, _ in leaves]
    labels = [label for _, label in leaves] + [label for label, _ in internal]
    return _make_tree(parents, tokens, labels, None, "node", 0)


def _ptb_node(start, label, children, leaves, internal, binary):
    """Close one bracket: record it as a leaf or an internal node, return its code."""
    words = [c for c in children if c[0] == "word"]
    if not children:
        raise ValueError(f"offset {start}: bracket ({label} ...) has no children")
    if words and len(children) > 1:
        raise ValueError(
            f"offset {words[-1][2]}: a leaf is (label word), but ({label} ...) opened at "
            f"offset {start} has {len(children)} children, {len(words)} of them words"
        )
    if words:
        leaves.append((words[0][1], label))
        return ("leaf", len(leaves) - 1)
    if binary and len(children) != 2:
        raise ValueError(
            f"offset {start}: node ({label} ...) has {len(children)} children; a binary tree needs 2"
        )
    internal.append((label, children))
    return ("node", len(internal) - 1)


def from_spacy(doc_or_span: "Doc | Span") -> Tree:
    """Build the dependency tree of a parsed spaCy ``Doc`` or ``Span`` (a sentence).

    Edges go from each token to its syntactic head. A ``Doc`` or span that spaCy split
    into several sentences still becomes one tree: the root of every later sentence
    is attached to the root of the first one.

    Returns:
        A :class:`Tree`; node ``i`` is token ``i`` of the span, ``tokens`` their texts,
        ``labels`` their dependency relations (``token.dep_``).
    """
    tokens = list(doc_or_span)
    if not tokens:
        raise ValueError("empty tree: the span has no tokens")
    start = tokens[0].i
    heads = np.array([t.head.i - start for t in tokens], dtype=np.int64)
    outside = np.flatnonzero((heads < 0) | (heads >= len(tokens)))
    if outside.size:
        k = int(outside[0])
        raise ValueError(f"token {k} ({tokens[k].text!r}) has its head outside the span")
    own = np.arange(len(tokens))
    roots = np.flatnonzero(heads == own)
    if roots.size == 0:
        raise ValueError("no root: every token has another token as its head")
    heads[roots] = -1
    heads[roots[1:]] = roots[0]
    return _make_tree(heads, [t.text for t in tokens], [t.dep_ for t in tokens], None, "token", 0)


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


def chain(n: int, reverse: bool = False, *, tokens: Sequence[str] | None = None) -> Tree:
    """A sentence of ``n`` tokens as a chain: token ``t``'s only child is token ``t - 1``.

    With ``reverse=True`` the chain runs right to left (token ``t``'s child is ``t + 1``),
    as the backward direction of a bidirectional LSTM reads it. The root is the last
    token read: ``n - 1``, or ``0`` when reversed.
    """
    if tokens is not None and len(tokens) != n:
        raise ValueError(f"chain of {n} nodes given {len(tokens)} tokens")
    if n < 1:
        raise ValueError(f"empty tree: a chain needs at least one token, got n={n}")
    parents = np.arange(n, dtype=np.int64) + (-1 if reverse else 1)
    parents[0 if reverse else n - 1] = -1
    return Tree(parents, np.zeros(n, dtype=np.int64), tuple(tokens or (None,) * n))


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
    sizes = np.asarray(lengths, dtype=np.int64)
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
