"""The cells against the paper's equations, and the encoder's two propagation modes."""

import math

import numpy as np
import pytest
import torch
from conftest import CELLS, forest_for, random_parents_line, random_ptb

import treelstm
from treelstm import trees

def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def test_child_sum_by_hand_on_a_three_node_tree():
    """Root 0 with leaves 1 and 2; input and hidden size 1; every weight set by hand."""
    cell = treelstm.ChildSumTreeLSTMCell(1, 1).double()
    Wi, Wo, Wu, Wf = 0.5, -0.3, 0.8, 0.2
    Ui, Uo, Uu, Uf = 0.1, 0.4, -0.6, 0.7
    bi, bo, bu, bf = 0.05, -0.1, 0.2, 1.0
    with torch.no_grad():
        cell.W.copy_(torch.tensor([[Wi], [Wo], [Wu], [Wf]]))
        cell.U.copy_(torch.tensor([[Ui], [Uo], [Uu]]))
        cell.U_f.fill_(Uf)
        cell.b.copy_(torch.tensor([bi, bo, bu, bf]))
    x = [0.3, -1.2, 2.0]
    graph = trees.from_parents("0 1 1").graph  # node 0 is the root
    h, c, _ = treelstm.TreeLSTM(cell)(graph, torch.tensor(x, dtype=torch.float64)[:, None])

    def leaf(xj):
        i, o, u = sigmoid(Wi * xj + bi), sigmoid(Wo * xj + bo), math.tanh(Wu * xj + bu)
        return o * math.tanh(i * u), i * u

    (h1, c1), (h2, c2) = leaf(x[1]), leaf(x[2])
    h_sum = h1 + h2
    i = sigmoid(Wi * x[0] + Ui * h_sum + bi)
    o = sigmoid(Wo * x[0] + Uo * h_sum + bo)
    u = math.tanh(Wu * x[0] + Uu * h_sum + bu)
    f1, f2 = sigmoid(Wf * x[0] + Uf * h1 + bf), sigmoid(Wf * x[0] + Uf * h2 + bf)  # W_f x_j included
    c0 = i * u + f1 * c1 + f2 * c2
    expected_c = [c0, c1, c2]
    expected_h = [o * math.tanh(c0), h1, h2]
    assert torch.allclose(c[:, 0], torch.tensor(expected_c, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(h[:, 0], torch.tensor(expected_h, dtype=torch.float64), atol=1e-12)


def test_n_ary_by_hand_uses_one_U_per_child_and_sees_all_children_in_each_forget_gate():
    """Root with a left and a right leaf; H = 1, no input at the root (x = 0)."""
    cell = treelstm.NaryTreeLSTMCell(1, 1, n_ary=2).double()
    torch.manual_seed(3)
    with torch.no_grad():
        for p in cell.parameters():
            p.uniform_(-1, 1)
    W, U, b = cell.W[:, 0].tolist(), cell.U.tolist(), cell.b.tolist()  # rows i, o, u, f0, f1
    tree = trees.from_ptb("(1 (2 left) (3 right))")  # nodes: left, right, root
    x = torch.tensor([[0.7], [-0.4], [0.0]], dtype=torch.float64)
    h, c, _ = treelstm.TreeLSTM(cell)(tree.graph, x)

    def leaf(xj):
        i, o, u = sigmoid(W[0] * xj + b[0]), sigmoid(W[1] * xj + b[1]), math.tanh(W[2] * xj + b[2])
        return o * math.tanh(i * u), i * u

    (hl, cl), (hr, cr) = leaf(0.7), leaf(-0.4)
    pre = [b[g] + U[g][0] * hl + U[g][1] * hr for g in range(5)]
    i, o, u = sigmoid(pre[0]), sigmoid(pre[1]), math.tanh(pre[2])
    c_root = i * u + sigmoid(pre[3]) * cl + sigmoid(pre[4]) * cr
    assert c[2, 0].item() == pytest.approx(c_root, abs=1e-12)
    assert h[2, 0].item() == pytest.approx(o * math.tanh(c_root), abs=1e-12)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("mode", ["fast", "dgl"])
def test_gradcheck_float64(name, mode, rng):
    forest = [trees.from_ptb(random_ptb(n, rng)) for n in (1, 3, 4)] if name.startswith("n-ary") else [
        trees.from_parents(random_parents_line(n, rng)) for n in (1, 3, 5)
    ]
    graph = trees.batch(forest)
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(CELLS[name](3, 2).double(), mode=mode)
    names = [n for n, _ in encoder.named_parameters()]
    x = torch.randn(graph.num_nodes(), 3, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in encoder.parameters()]

    def run(x, *params):
        out = torch.func.functional_call(encoder, dict(zip(names, params)), (graph, x))
        return tuple(t for t in out if t is not None)

    assert torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-10)])
def test_fast_and_dgl_modes_agree(name, dtype, tol, mixed_trees, binary_trees):
    graph = trees.batch(forest_for(name, mixed_trees, binary_trees))
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(CELLS[name](7, 5).to(dtype))
    x = torch.randn(graph.num_nodes(), 7, dtype=dtype, requires_grad=True)
    fast = encoder(graph, x, return_gates=True)
    (fast[0].sum() + fast[0].pow(2).sum()).backward()
    grads_fast = [x.grad.clone()] + [p.grad.clone() for p in encoder.parameters()]
    x.grad = None
    encoder.zero_grad()
    encoder.mode = "dgl"
    ref = encoder(graph, x, return_gates=True)
    (ref[0].sum() + ref[0].pow(2).sum()).backward()
    grads_ref = [x.grad] + [p.grad for p in encoder.parameters()]
    for a, b in zip(fast[:2], ref[:2]):
        if a is not None:
            assert (a - b).abs().max() <= tol
    assert fast[2].keys() == ref[2].keys()
    for gate in fast[2]:
        assert (fast[2][gate] - ref[2][gate]).abs().max() <= tol, gate
    for a, b in zip(grads_fast, grads_ref):
        assert (a - b).abs().max() <= tol * 10


@pytest.mark.parametrize("name", CELLS)
def test_a_batch_equals_its_trees_one_at_a_time(name, mixed_trees, binary_trees):
    forest = forest_for(name, mixed_trees, binary_trees)
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(CELLS[name](4, 3).double())
    sizes = [t.num_nodes for t in forest]
    x = torch.randn(sum(sizes), 4, dtype=torch.float64)
    h_batch = encoder(trees.batch(forest), x).h
    h_each = torch.cat([encoder(t.graph, xs).h for t, xs in zip(forest, x.split(sizes))])
    assert torch.allclose(h_batch, h_each, atol=1e-12, rtol=0)


def permute_children(line: str) -> str:
    """The same tree with nodes renumbered so that the root's children come in reverse order."""
    heads = [int(v) for v in line.split()]
    n = len(heads)
    perm = list(range(n))[::-1]  # old node k -> new node n-1-k
    new = [0] * n
    for k, head in enumerate(heads):
        new[perm[k]] = 0 if head == 0 else perm[head - 1] + 1
    return " ".join(map(str, new))


def test_child_sum_is_invariant_to_child_order_and_n_ary_is_not():
    line = "0 1 1 1 2"  # root 1 with children 2, 3, 4; node 5 under node 2
    flipped = permute_children(line)
    a, b = trees.from_parents(line), trees.from_parents(flipped)
    # old nodes 1, 2, 3 are new nodes 3, 2, 1: old 2 and old 3 swap slots
    assert a.slots[[1, 2, 3]].tolist() == [0, 1, 2] and b.slots[[3, 2, 1]].tolist() == [0, 2, 1]
    torch.manual_seed(0)
    x = torch.randn(5, 4, dtype=torch.float64)
    x_flipped = x.flip(0)
    for cell, invariant in [
        (treelstm.ChildSumTreeLSTMCell(4, 3), True),
        (treelstm.ChildSumTreeGRUCell(4, 3), True),
        (treelstm.NaryTreeLSTMCell(4, 3, n_ary=3), False),
    ]:
        encoder = treelstm.TreeLSTM(cell.double())
        root_a, root_b = encoder(a.graph, x).h[a.root], encoder(b.graph, x_flipped).h[b.root]
        assert torch.allclose(root_a, root_b, atol=1e-12) == invariant, type(cell).__name__


def test_n_ary_missing_child_is_a_zero_state():
    """A unary node equals a binary node whose second child has h = c = 0."""
    torch.manual_seed(0)
    cell = treelstm.NaryTreeLSTMCell(3, 2).double()
    wx = cell.project(torch.randn(1, 3, dtype=torch.float64))
    h_k, c_k = torch.randn(1, 2, dtype=torch.float64), torch.randn(1, 2, dtype=torch.float64)
    zero, one = torch.tensor([0]), torch.tensor([1])
    (h1, c1), _ = cell(wx, (h_k, c_k), zero, zero)
    (h2, c2), _ = cell(
        wx, (torch.cat([h_k, torch.zeros_like(h_k)]), torch.cat([c_k, torch.zeros_like(c_k)])), torch.tensor([0, 0]),
        torch.cat([zero, one]),
    )
    assert torch.allclose(h1, h2) and torch.allclose(c1, c2)


def test_n_ary_rejects_a_node_with_too_many_children():
    graph = trees.from_parents("0 1 1 1").graph
    for mode in ("fast", "dgl"):
        with pytest.raises(ValueError, match="a node has 3 children, but NaryTreeLSTMCell takes at most n_ary=2"):
            treelstm.TreeLSTM(treelstm.NaryTreeLSTMCell(2, 2), mode=mode)(graph, torch.zeros(4, 2))


def test_bad_inputs_and_modes_are_reported():
    graph = trees.from_parents("2 0").graph
    encoder = treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(3, 2))
    shape = "x must be a float32 tensor of shape \\(num_nodes=2, input_size=3\\) on device cpu, got shape \\(3, 3\\)"
    with pytest.raises(ValueError, match=shape):
        encoder(graph, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="input_size=3.*got shape \\(2, 4\\)"):
        encoder(graph, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="project: x must have input_size=3 .*got shape \\(2, 4\\)"):
        encoder.cell.project(torch.zeros(2, 4))
    encoder.mode = "slow"
    with pytest.raises(ValueError, match="mode must be 'fast' or 'dgl', got 'slow'"):
        encoder(graph, torch.zeros(2, 3))


def test_gates_are_what_the_states_were_computed_from(mixed_trees):
    graph = trees.batch(mixed_trees)
    torch.manual_seed(0)
    cell = treelstm.ChildSumTreeLSTMCell(4, 3).double()
    x = torch.randn(graph.num_nodes(), 4, dtype=torch.float64)
    h, c, gates = treelstm.TreeLSTM(cell)(graph, x, return_gates=True)
    assert torch.allclose(h, gates["o"] * torch.tanh(c))
    child, parent = graph.edges()
    carried = torch.zeros_like(c).index_add(0, parent, gates["f"][child] * c[child])  # sum_k f_jk c_k
    assert torch.allclose(c, gates["i"] * gates["u"] + carried)
    roots = torch.tensor(np.flatnonzero(graph.out_degrees().numpy() == 0))
    assert gates["f"][roots].abs().sum() == 0


def test_a_5000_node_chain_runs_without_recursion():
    graph = trees.chain(5000).graph
    encoder = treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(4, 4))
    x = torch.randn(5000, 4, requires_grad=True)
    h, c, _ = encoder(graph, x)
    h[-1].sum().backward()
    assert torch.isfinite(h).all() and x.grad[-10:].abs().sum() > 0  # backward ran through the levels


def test_the_schedule_can_be_computed_once_and_reused(mixed_trees):
    graph = trees.batch(mixed_trees)
    schedule = treelstm.LevelSchedule.from_graph(graph)
    encoder = treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(4, 3))
    x = torch.randn(graph.num_nodes(), 4)
    assert torch.equal(encoder(graph, x, schedule=schedule).h, encoder(graph, x).h)
