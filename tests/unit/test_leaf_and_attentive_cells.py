"""The reference code's linear leaves and the attentive Child-Sum Tree-LSTM: their equations by hand,
float64 gradcheck and the two propagation modes, a batch against its trees one at a time, and the
attentive sentence encoder over pairs."""

import math

import pytest
import torch
from conftest import WORDS, random_parents_line, random_ptb
from torch import nn

import treelstm
from treelstm import trees
from treelstm.models.batch import TreeBatch
from treelstm.models.sentence import SentenceEncoder
from treelstm.nn.attentive import AttentiveChildSumTreeLSTMCell
from treelstm.nn.cells import LinearLeafNaryTreeLSTMCell
from treelstm.text.embeddings import Vocabulary

KEY = 2
NEW_CELLS = {
    "n-ary-linear-leaf": lambda i, h: LinearLeafNaryTreeLSTMCell(i, h),
    "n-ary-linear-leaf-no-o": lambda i, h: LinearLeafNaryTreeLSTMCell(i, h, output_gate=False),
    # node input [x_j; r_j]: i features in all, the last KEY of them the key
    "attentive": lambda i, h: AttentiveChildSumTreeLSTMCell(i - KEY, h, KEY),
    "attentive-no-o": lambda i, h: AttentiveChildSumTreeLSTMCell(i - KEY, h, KEY, output_gate=False),
}


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def forest(name, rng, sizes=(1, 3, 5, 8)):
    if name.startswith("n-ary"):
        return [trees.from_ptb(random_ptb(n, rng)) for n in sizes]
    return [trees.from_parents(random_parents_line(n, rng)) for n in sizes]


def randomised(cell):
    torch.manual_seed(5)
    with torch.no_grad():
        for p in cell.parameters():
            p.uniform_(-1, 1)
    return cell


def test_linear_leaf_by_hand():
    """Leaves: c = W_u x + b_u, h = o tanh(c), no input gate; the root: the N-ary equations."""
    cell = randomised(LinearLeafNaryTreeLSTMCell(1, 1).double())
    W, U, b = cell.W[:, 0].tolist(), cell.U.tolist(), cell.b.tolist()  # rows i, o, u, f0, f1
    tree = trees.from_ptb("(1 (2 left) (3 right))")  # nodes: left, right, root
    x = torch.tensor([[0.7], [-0.4], [0.0]], dtype=torch.float64)
    h, c, gates = treelstm.TreeLSTM(cell)(tree.graph, x, return_gates=True)

    def leaf(xj):
        c = W[2] * xj + b[2]
        return sigmoid(W[1] * xj + b[1]) * math.tanh(c), c

    (hl, cl), (hr, cr) = leaf(0.7), leaf(-0.4)
    pre = [b[g] + U[g][0] * hl + U[g][1] * hr for g in range(5)]
    i, o, u = sigmoid(pre[0]), sigmoid(pre[1]), math.tanh(pre[2])
    c_root = i * u + sigmoid(pre[3]) * cl + sigmoid(pre[4]) * cr
    assert c[:, 0].tolist() == pytest.approx([cl, cr, c_root], abs=1e-12)
    assert h[:, 0].tolist() == pytest.approx([hl, hr, o * math.tanh(c_root)], abs=1e-12)
    assert gates["i"][:2].tolist() == [[1.0], [1.0]] and torch.equal(gates["i"][:2] * gates["u"][:2], c[:2])


def test_linear_leaf_changes_only_the_leaves():
    """Internal nodes use the N-ary equations: with the leaves' states given, the same as NaryTreeLSTMCell."""
    paper, reference = NaryTreeLSTMCell_pair()
    torch.manual_seed(1)
    wx = paper.project(torch.randn(2, 3, dtype=torch.float64))
    children = (torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64))
    parent, slot = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0])
    (h1, c1), _ = paper(wx, children, parent, slot)
    (h2, c2), _ = reference(wx, children, parent, slot)
    assert torch.equal(h1, h2) and torch.equal(c1, c2)
    leaves = (wx.new_zeros(0, 2), wx.new_zeros(0, 2))
    none = torch.zeros(0, dtype=torch.long)
    assert not torch.allclose(paper(wx, leaves, none, none)[0][1], reference(wx, leaves, none, none)[0][1])


def NaryTreeLSTMCell_pair():
    paper = randomised(treelstm.NaryTreeLSTMCell(3, 2).double())
    reference = LinearLeafNaryTreeLSTMCell(3, 2).double()
    reference.load_state_dict(paper.state_dict())
    return paper, reference


def test_attentive_by_hand():
    """Root 0 with leaves 1 and 2; H = 1, key size 1: the attention is a softmax over the two children."""
    cell = randomised(AttentiveChildSumTreeLSTMCell(1, 1, key_size=1).double())
    Wi, Wo, Wu, Wf = cell.W[:, 0].tolist()
    Ui, Uo, Uu = cell.U[:, 0].tolist()
    Uf, Wm, Um, w = cell.U_f.item(), cell.W_m.item(), cell.U_m.item(), cell.w.item()
    bi, bo, bu, bf, bm = cell.b.tolist()
    x, r = [0.3, -1.2, 2.0], 0.9
    graph = trees.from_parents("0 1 1").graph
    inputs = torch.tensor([[xj, r] for xj in x], dtype=torch.float64)
    h, c, _ = treelstm.TreeLSTM(cell)(graph, inputs)

    def leaf(xj):
        i, o, u = sigmoid(Wi * xj + bi), sigmoid(Wo * xj + bo), math.tanh(Wu * xj + bu)
        return o * math.tanh(i * u), i * u

    (h1, c1), (h2, c2) = leaf(x[1]), leaf(x[2])
    s1, s2 = w * math.tanh(Wm * h1 + Um * r + bm), w * math.tanh(Wm * h2 + Um * r + bm)
    a1, a2 = math.exp(s1) / (math.exp(s1) + math.exp(s2)), math.exp(s2) / (math.exp(s1) + math.exp(s2))
    h_tilde = a1 * h1 + a2 * h2
    i, o = sigmoid(Wi * x[0] + Ui * h_tilde + bi), sigmoid(Wo * x[0] + Uo * h_tilde + bo)
    u = math.tanh(Wu * x[0] + Uu * h_tilde + bu)
    f1, f2 = sigmoid(Wf * x[0] + Uf * h1 + bf), sigmoid(Wf * x[0] + Uf * h2 + bf)
    c0 = i * u + f1 * c1 + f2 * c2
    assert c[:, 0].tolist() == pytest.approx([c0, c1, c2], abs=1e-12)
    assert h[:, 0].tolist() == pytest.approx([o * math.tanh(c0), h1, h2], abs=1e-12)


def test_attentive_with_equal_scores_averages_the_children(mixed_trees):
    """w = 0: every child weighs 1/|C(j)|, i.e. a Child-Sum cell whose U is divided by the number of children."""
    cell = randomised(AttentiveChildSumTreeLSTMCell(3, 2, key_size=2).double())
    with torch.no_grad():
        cell.w.zero_()
    graph = trees.batch(mixed_trees)
    x = torch.randn(graph.num_nodes(), 5, dtype=torch.float64)
    h = treelstm.TreeLSTM(cell)(graph, x).h
    child_sum = treelstm.ChildSumTreeLSTMCell(3, 2).double()
    child_sum.load_state_dict({k: v for k, v in cell.state_dict().items() if k in ("W", "U", "U_f")}
                              | {"b": cell.b[:8]})
    degree = graph.in_degrees().clamp(min=1).double()[:, None]
    # h_j only through U h_tilde: check c_j = i u + sum f c with h_tilde = mean of the children
    states = treelstm.TreeLSTM(child_sum)(graph, x[:, :3])
    assert not torch.allclose(h, states.h)  # sums, not means
    h_mean = torch.zeros_like(h).index_add(0, graph.edges()[1], h[graph.edges()[0]]) / degree
    wx = child_sum.project(x[:, :3])
    gates = (wx[:, :6] + h_mean @ child_sum.U.T).chunk(3, dim=1)
    f = torch.sigmoid(wx[graph.edges()[1], 6:] + h[graph.edges()[0]] @ child_sum.U_f.T)
    c = treelstm.TreeLSTM(cell)(graph, x).c
    carried = torch.zeros_like(c).index_add(0, graph.edges()[1], f * c[graph.edges()[0]])
    expected_c = torch.sigmoid(gates[0]) * torch.tanh(gates[2]) + carried
    assert torch.allclose(c, expected_c, atol=1e-12)
    assert torch.allclose(h, torch.sigmoid(gates[1]) * torch.tanh(c), atol=1e-12)


def test_attentive_key_guides_the_composition_and_child_order_does_not_matter():
    line = "0 1 1 1 2"
    torch.manual_seed(0)
    cell = randomised(AttentiveChildSumTreeLSTMCell(4, 3, key_size=2).double())
    encoder = treelstm.TreeLSTM(cell)
    x = torch.randn(5, 4, dtype=torch.float64)
    key_a, key_b = torch.randn(2, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    a = trees.from_parents(line)
    h_a = encoder(a.graph, torch.cat([x, key_a.expand(5, 2)], 1)).h
    h_b = encoder(a.graph, torch.cat([x, key_b.expand(5, 2)], 1)).h
    assert not torch.allclose(h_a[0], h_b[0]) and torch.allclose(h_a[1:], h_b[1:])  # leaves have no children
    # the same tree numbered backwards (old node k is new node 4 - k): the root's children in reverse order
    heads = [int(v) for v in line.split()]
    new = [0] * 5
    for k, head in enumerate(heads):
        new[4 - k] = 0 if head == 0 else 4 - (head - 1) + 1
    flipped = trees.from_parents(" ".join(map(str, new)))
    h_flipped = encoder(flipped.graph, torch.cat([x.flip(0), key_a.expand(5, 2)], 1)).h
    assert torch.allclose(h_a[0], h_flipped[flipped.root], atol=1e-12)


@pytest.mark.parametrize("name", NEW_CELLS)
@pytest.mark.parametrize("mode", ["fast", "dgl"])
def test_gradcheck_float64(name, mode, rng):
    graph = trees.batch(forest(name, rng, (1, 3, 5)))
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(NEW_CELLS[name](4, 2).double(), mode=mode)
    names = [n for n, _ in encoder.named_parameters()]
    x = torch.randn(graph.num_nodes(), 4, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in encoder.parameters()]

    def run(x, *params):
        out = torch.func.functional_call(encoder, dict(zip(names, params)), (graph, x))
        return tuple(t for t in out if t is not None)

    assert torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize("name", NEW_CELLS)
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-10)])
def test_fast_and_dgl_modes_agree(name, dtype, tol, rng):
    graph = trees.batch(forest(name, rng, (1, 2, 4, 7, 12)))
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(NEW_CELLS[name](7, 5).to(dtype))
    x = torch.randn(graph.num_nodes(), 7, dtype=dtype, requires_grad=True)
    fast = encoder(graph, x, return_gates=True)
    (fast.h.sum() + fast.h.pow(2).sum()).backward()
    grads_fast = [x.grad.clone()] + [p.grad.clone() for p in encoder.parameters()]
    x.grad = None
    encoder.zero_grad()
    encoder.mode = "dgl"
    ref = encoder(graph, x, return_gates=True)
    (ref.h.sum() + ref.h.pow(2).sum()).backward()
    grads_ref = [x.grad] + [p.grad for p in encoder.parameters()]
    assert (fast.h - ref.h).abs().max() <= tol and (fast.c - ref.c).abs().max() <= tol
    assert fast.gates.keys() == ref.gates.keys()
    for gate in fast.gates:
        assert (fast.gates[gate] - ref.gates[gate]).abs().max() <= tol, gate
    for a, b in zip(grads_fast, grads_ref):
        assert (a - b).abs().max() <= tol * 10


@pytest.mark.parametrize("name", NEW_CELLS)
def test_a_batch_equals_its_trees_one_at_a_time(name, rng):
    trees_ = forest(name, rng, (1, 2, 5, 9, 14))
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(NEW_CELLS[name](4, 3).double())
    sizes = [t.num_nodes for t in trees_]
    x = torch.randn(sum(sizes), 4, dtype=torch.float64)
    h_batch = encoder(trees.batch(trees_), x).h
    h_each = torch.cat([encoder(t.graph, xs).h for t, xs in zip(trees_, x.split(sizes))])
    assert torch.allclose(h_batch, h_each, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", NEW_CELLS)
def test_the_fused_path_is_not_taken(name):
    cell = NEW_CELLS[name](4, 3)
    with pytest.raises(ValueError, match="not a subclass that changes forward"):
        treelstm.TreeLSTM(cell, fused=True)


def test_attentive_inputs_for_some_nodes_are_zero_rows_for_the_others(mixed_trees):
    graph = trees.batch(mixed_trees)
    encoder = treelstm.TreeLSTM(randomised(AttentiveChildSumTreeLSTMCell(3, 2, key_size=2).double()))
    x_nodes = torch.arange(0, graph.num_nodes(), 3)
    x = torch.randn(len(x_nodes), 5, dtype=torch.float64)
    full = torch.zeros(graph.num_nodes(), 5, dtype=torch.float64).index_copy(0, x_nodes, x)
    assert torch.allclose(encoder(graph, x, x_nodes=x_nodes).h, encoder(graph, full).h, atol=1e-12)


def test_the_attentive_cell_checks_its_input_width():
    cell = AttentiveChildSumTreeLSTMCell(3, 2, key_size=4)
    assert repr(cell) == "AttentiveChildSumTreeLSTMCell(3, 2, key_size=4, output_gate=True)"
    with pytest.raises(ValueError, match="input_size=7 features \\(the word's 3 and the key's 4\\), got shape \\(2, 3\\)"):
        cell.project(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="key_size must be an int"):
        AttentiveChildSumTreeLSTMCell(3, 2, key_size=2.0)


# --- the attentive sentence encoder over pairs ---

VOCAB = Vocabulary(WORDS)


def texts(rng, sizes):
    out = []
    for n in sizes:
        tree = trees.from_parents(random_parents_line(n, rng))
        out.append(trees.Tree.of(tree.parents, tree.slots, [WORDS[int(k)] for k in rng.integers(0, len(WORDS), n)]))
    return out


def test_attentive_encoder_reads_each_text_with_its_partner(rng):
    torch.manual_seed(0)
    encoder = randomised(SentenceEncoder(nn.Embedding(len(VOCAB), 5), "childsum-attentive", 4).double())
    first, second = texts(rng, (3, 6, 1)), texts(rng, (5, 2, 4))
    _, together = encoder(TreeBatch.of(first + second, VOCAB))
    for k in range(3):  # a batch of pairs equals each pair alone
        _, alone = encoder(TreeBatch.of([first[k], second[k]], VOCAB))
        assert torch.allclose(together[[k, k + 3]], alone, atol=1e-12)
    bushy = trees.Tree.of(trees.from_parents("0 1 1 1 2").parents, trees.from_parents("0 1 1 1 2").slots, WORDS[:5])
    _, (with_a, _) = encoder(TreeBatch.of([bushy, second[0]], VOCAB))
    _, (with_b, _) = encoder(TreeBatch.of([bushy, second[1]], VOCAB))
    assert (with_a - with_b).abs().max() > 1e-5  # the partner guides the composition
    h, sentences, gates = encoder(TreeBatch.of([first[1], second[1]], VOCAB), return_gates=True)
    assert set(gates) == {"i", "o", "u", "f"} and h.shape == (8, 4) and sentences.shape == (2, 4)
    with pytest.raises(ValueError, match="reads pairs of texts with a word at every node; got 3 trees"):
        encoder(TreeBatch.of(first, VOCAB))


def test_linear_leaves_in_the_sentence_encoder_only_for_nary():
    encoder = SentenceEncoder(nn.Embedding(len(VOCAB), 5), "nary", 4, leaf="linear")
    assert isinstance(encoder.recurrent.cell, LinearLeafNaryTreeLSTMCell)
    with pytest.raises(ValueError, match="leaf must be 'gated' or 'linear' \\(cell 'nary' only\\), got leaf='linear' "
                                         "with cell 'childsum'"):
        SentenceEncoder(nn.Embedding(len(VOCAB), 5), "childsum", 4, leaf="linear")
