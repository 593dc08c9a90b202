"""Property-based tests (hypothesis) of the tree builders: random valid trees round-trip through
their text form; random corruptions and random text raise ValueError and nothing else.

400 examples a property; ``TREELSTM_FUZZ_EXAMPLES=5000 pytest tests/test_tree_properties.py`` runs more."""

import os

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from treelstm import trees

EXAMPLES = settings(max_examples=int(os.environ.get("TREELSTM_FUZZ_EXAMPLES", 400)), deadline=None)
WORD = st.text(st.characters(exclude_characters=" \t\r\n()", exclude_categories=("Cs",)), min_size=1, max_size=6)
"""A PTB word or label: any Unicode but ASCII whitespace and brackets (the separators)."""


@st.composite
def heads(draw, min_size=1, max_size=40):
    """A random dependency tree as 1-based heads (0: the root), any node the root."""
    n = draw(st.integers(min_size, max_size))
    order = draw(st.permutations(range(n)))  # order[0] is the root; the others attach to an earlier node
    result = [0] * n
    for k in range(1, n):
        result[order[k]] = order[draw(st.integers(0, k - 1))] + 1
    return result


def ptb_trees(binary: bool):
    """Random PTB trees as text, e.g. ``(3 (2 a) (4 b))``; non-binary ones have 1 to 4 children a node."""
    leaf = st.tuples(WORD, WORD).map(lambda pair: f"({pair[0]} {pair[1]})")
    size = {"min_size": 2, "max_size": 2} if binary else {"min_size": 1, "max_size": 4}

    def node(children):
        return st.tuples(WORD, st.lists(children, **size)).map(lambda t: f"({t[0]} {' '.join(t[1])})")

    return st.recursive(leaf, node, max_leaves=25)


def to_ptb(tree: trees.Tree, node: int | None = None) -> str:
    """A tree of :func:`trees.from_ptb` back as text: children in slot order."""
    node = tree.root if node is None else node
    if tree.tokens[node] is not None:
        return f"({tree.labels[node]} {tree.tokens[node]})"
    children = sorted(np.flatnonzero(tree.parents == node), key=lambda child: tree.slots[child])
    return f"({tree.labels[node]} {' '.join(to_ptb(tree, int(c)) for c in children)})"


def descendants(parents: list[int], node: int) -> list[int]:
    """``node`` and every node below it (0-based ``parents``, -1 for the root)."""
    def below(k):
        while k != -1:
            if k == node:
                return True
            k = parents[k]
        return False

    return [k for k in range(len(parents)) if below(k)]


@EXAMPLES
@given(heads(), st.data())
def test_parent_lines_round_trip(line_heads, data):
    tokens = data.draw(st.lists(st.text(min_size=1), min_size=len(line_heads), max_size=len(line_heads)))
    line = " ".join(map(str, line_heads))
    tree = trees.from_parents(line, tokens)
    assert tree.parents.tolist() == [h - 1 for h in line_heads] and list(tree.tokens) == tokens
    assert " ".join(str(p + 1) for p in tree.parents) == line
    parents = tree.parents.tolist()
    first = [min(descendants(parents, k)) for k in range(len(parents))]  # the subtree's first token
    for node in range(len(parents)):
        children = [k for k in range(len(parents)) if parents[k] == node]
        assert sorted(tree.slots[children].tolist()) == list(range(len(children)))  # slots 0..m-1
        assert sorted(children, key=lambda k: tree.slots[k]) == sorted(children, key=lambda k: first[k])


@EXAMPLES
@given(st.booleans().flatmap(lambda binary: st.tuples(st.just(binary), ptb_trees(binary))))
def test_ptb_trees_round_trip(case):
    binary, text = case
    tree = trees.from_ptb(text, binary=binary)
    assert to_ptb(tree) == text
    leaves = [t for t in tree.tokens if t is not None]
    assert tree.tokens[: len(leaves)] == tuple(leaves) and tree.root == tree.num_nodes - 1


CORRUPTIONS = ["out of range", "negative", "self", "cycle", "second root", "no root", "not a number", "huge"]


@EXAMPLES
@given(heads(), st.sampled_from(CORRUPTIONS), st.data())
def test_corrupted_parent_lines_raise_value_error(line_heads, corruption, data):
    n, parents = len(line_heads), [h - 1 for h in line_heads]
    root = parents.index(-1)
    k = data.draw(st.integers(0, n - 1))
    fields = [str(h) for h in line_heads]
    if corruption == "out of range":
        fields[k] = str(data.draw(st.integers(n + 1, 10 * n + 10)))
    elif corruption == "negative":
        fields[k] = str(data.draw(st.integers(-100, -1)))
    elif corruption == "self":
        fields[k] = str(k + 1)
    elif corruption == "cycle":  # a node's head becomes a node below it
        assume(k != root)
        fields[k] = str(data.draw(st.sampled_from(descendants(parents, k))) + 1)
    elif corruption == "second root":
        assume(k != root)
        fields[k] = "0"
    elif corruption == "no root":
        assume(n > 1 and k != root)
        fields[root] = str(k + 1)
    elif corruption == "not a number":
        fields[k] = data.draw(st.sampled_from(["x", "1.5", "", "--1", "١", "2a"])) or "-"
    else:
        fields[k] = str(10**30)
    with pytest.raises(ValueError):
        trees.from_parents(" ".join(fields))


@EXAMPLES
@given(st.booleans().flatmap(lambda binary: st.tuples(st.just(binary), ptb_trees(binary))),
       st.sampled_from(["delete", "insert"]), st.sampled_from("()"), st.data())
def test_ptb_with_a_bracket_deleted_or_inserted_raises_value_error(case, change, bracket, data):
    binary, text = case
    if change == "delete":
        at = data.draw(st.sampled_from([k for k, c in enumerate(text) if c == bracket]))
        text = text[:at] + text[at + 1 :]
    else:
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + bracket + text[at:]
    with pytest.raises(ValueError):
        trees.from_ptb(text, binary=binary)


@EXAMPLES
@given(st.one_of(st.text(), st.text(alphabet="0123456789 -\t\n")))
def test_any_text_as_a_parent_line_is_a_tree_or_a_value_error(text):
    try:
        tree = trees.from_parents(text)
    except ValueError:
        return
    assert tree.num_nodes == len(text.split())


@EXAMPLES
@given(st.one_of(st.text(), st.text(alphabet="() 0123ab\t\n")), st.booleans())
def test_any_text_as_ptb_is_a_tree_or_a_value_error(text, binary):
    try:
        tree = trees.from_ptb(text, binary=binary)
    except ValueError:
        return
    assert tree.labels is not None and tree.num_nodes >= 1


@pytest.mark.parametrize("n", [1, 1000, 1500])
def test_one_token_and_long_sentences(n):
    rng = np.random.default_rng(n)
    order = rng.permutation(n)
    line_heads = np.zeros(n, dtype=int)
    for k in range(1, n):
        line_heads[order[k]] = order[rng.integers(0, k)] + 1
    tree = trees.from_parents(" ".join(map(str, line_heads)), [f"w{k}" for k in range(n)])
    assert tree.num_nodes == n and tree.root == order[0]
    text = "(2 w0)"
    for k in range(1, n):  # a left-branching binary tree n levels deep
        text = f"(2 {text} (1 w{k}))"
    tree = trees.from_ptb(text)
    assert tree.tokens[:n] == tuple(f"w{k}" for k in range(n)) and tree.num_nodes == 2 * n - 1
    assert trees.batch([tree, trees.from_parents("0")]).num_nodes() == 2 * n
