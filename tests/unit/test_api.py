"""The public API's conventions: TreeLSTM's one return type, the explicit `fused` choice (and double
backward without it), the cell protocol, and the modules' reprs."""

import pytest
import torch
from conftest import random_parents_line, random_ptb
from torch import nn

import treelstm
from conftest import CELLS, forest_for
from treelstm import trees
from treelstm.models.sentence import SentenceEncoder
from treelstm.models.tagger import SequenceTagger
from treelstm.nn import fused_levels
from treelstm.nn.characters import CharCNN, CharLSTM
from treelstm.nn.crf import CRF
from treelstm.nn.encoder import TreeLSTMOutput
from treelstm.nn.heads import Classifier, SimilarityHead

LSTM_CELLS = [name for name in CELLS if "gru" not in name]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("mode", ["fast", "dgl"])
@pytest.mark.parametrize("gates", [False, True])
def test_tree_lstm_always_returns_a_tree_lstm_output(name, mode, gates, mixed_trees, binary_trees):
    graph = trees.batch(forest_for(name, mixed_trees, binary_trees))
    encoder = treelstm.TreeLSTM(CELLS[name](4, 3), mode=mode)
    out = encoder(graph, torch.randn(graph.num_nodes(), 4), return_gates=gates)
    assert type(out) is TreeLSTMOutput and out._fields == ("h", "c", "gates")
    assert out.h.shape == (graph.num_nodes(), 3)
    assert (out.c is None) == (name == "gru")
    if gates:
        assert isinstance(out.gates, dict) and all(g.shape == (graph.num_nodes(), 3) for g in out.gates.values())
    else:
        assert out.gates is None
    h, c, found = out  # three fields, always
    assert h is out.h and c is out.c and found is out.gates
    assert treelstm.TreeLSTM.forward.__annotations__["return"] in ("TreeLSTMOutput", TreeLSTMOutput)


@pytest.mark.parametrize("name", LSTM_CELLS)
def test_fused_false_computes_the_same_numbers_through_the_cells(name, mixed_trees, binary_trees, monkeypatch):
    calls = []
    run_fused = fused_levels.run_fused
    monkeypatch.setattr(fused_levels, "run_fused", lambda *args: calls.append(1) or run_fused(*args))
    graph = trees.batch(forest_for(name, mixed_trees, binary_trees))
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(CELLS[name](5, 4).double())
    x = torch.randn(graph.num_nodes(), 5, dtype=torch.float64, requires_grad=True)

    def run(fused):
        encoder.fused = fused
        h, c, _ = encoder(graph, x)
        grads = torch.autograd.grad((h.sin() * c).sum(), [x, *encoder.parameters()])
        return h, c, grads, len(calls)

    automatic, required, autograd = run(None), run(True), run(False)
    assert (automatic[3], required[3], autograd[3]) == (1, 2, 2)  # fused=False: not the fused loop
    assert torch.equal(automatic[0], required[0]) and torch.equal(automatic[1], required[1])
    for a, b in zip([*automatic[:2], *automatic[2]], [*autograd[:2], *autograd[2]]):
        assert (a - b).abs().max() <= 1e-11


def test_fused_true_where_it_cannot_apply_is_a_value_error():
    graph = trees.from_parents("2 0 2").graph
    with pytest.raises(ValueError, match="fused=True needs a ChildSumTreeLSTMCell.*got ChildSumTreeGRUCell"):
        treelstm.TreeLSTM(treelstm.ChildSumTreeGRUCell(3, 2), fused=True)
    with pytest.raises(ValueError, match="fused=True runs in mode='fast' only"):
        treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(3, 2), mode="dgl", fused=True)
    with pytest.raises(ValueError, match="fused must be None, True or False, got 'yes'"):
        treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(3, 2), fused="yes")
    encoder = treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(3, 2), fused=True)
    with pytest.raises(ValueError, match="fused=True returns no gates"):
        encoder(graph, torch.randn(3, 3), return_gates=True)
    encoder.mode = "dgl"  # switched after construction
    with pytest.raises(ValueError, match="fused=True runs in mode='fast' only"):
        encoder(graph, torch.randn(3, 3))
    assert treelstm.TreeLSTM(treelstm.ChildSumTreeGRUCell(3, 2), fused=False)(graph, torch.randn(3, 3)).c is None


@pytest.mark.parametrize("name", CELLS)
def test_double_backward_with_fused_false(name, rng):
    """gradgradcheck in float64 on tiny trees: second derivatives through the cells."""
    forest = [trees.from_ptb(random_ptb(n, rng)) for n in (1, 3)] if name.startswith("n-ary") else [
        trees.from_parents(random_parents_line(n, rng)) for n in (1, 4)
    ]
    graph = trees.batch(forest)
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(CELLS[name](2, 2).double(), fused=False)
    names = [n for n, _ in encoder.named_parameters()]
    x = torch.randn(graph.num_nodes(), 2, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in encoder.parameters()]

    def run(x, *params):
        out = torch.func.functional_call(encoder, dict(zip(names, params)), (graph, x))
        return tuple(t for t in out if t is not None)

    assert torch.autograd.gradgradcheck(run, (x, *params))


@pytest.mark.parametrize("fused", [None, True, False])
def test_a_gradient_penalty_trains_with_fused_false_only(fused):
    """The double-backward pattern: the gradient's norm in the loss. Fused (explicitly, or the
    default for LSTM cells) raises the once_differentiable error, although the incoming gradient
    (of ``h.sum()``) does not require grad, where torch's own decorator would silently drop the
    fused levels' second derivatives; fused=False gives them, checked against a central finite
    difference."""
    graph = trees.from_parents("0 1 1 2").graph
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(3, 2).double(), fused=fused)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)

    def penalty(x, create_graph=True):
        (grad,) = torch.autograd.grad(encoder(graph, x).h.sum(), x, create_graph=create_graph)
        return grad.pow(2).sum()

    if fused is not False:  # raised by the first backward already, as it is asked to build a graph
        with pytest.raises(RuntimeError, match="once_differentiable.*TreeLSTM\\(cell, fused=False\\)"):
            penalty(x)
        penalty(x, create_graph=False)  # first derivatives are fine
        return
    (analytic,) = torch.autograd.grad(penalty(x), x)
    eps, numeric = 1e-6, torch.zeros_like(x)
    for index in range(x.numel()):
        step = torch.zeros_like(x).view(-1)
        step[index] = eps
        step = step.view_as(x)
        numeric.view(-1)[index] = (penalty(x + step, False) - penalty(x - step, False)) / (2 * eps)
    assert torch.allclose(analytic, numeric, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("name", CELLS)
def test_the_library_cells_satisfy_the_protocol(name):
    cell = CELLS[name](3, 2)
    assert isinstance(cell, treelstm.TreeCellProtocol) and isinstance(cell, treelstm.TreeCell)
    assert isinstance(treelstm.ChainLSTMCell(3, 2), treelstm.TreeCellProtocol)
    assert not isinstance(nn.Linear(3, 2), treelstm.TreeCellProtocol)
    assert "TreeCellProtocol" in treelstm.__all__


class SumRNNCell(nn.Module):
    """A cell written against the protocol only (not a TreeCell): h_j = tanh(W x_j + b + U sum_k h_k)."""

    state_names = ("h",)
    per_child_gate = "g"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.linear = nn.Linear(input_size, hidden_size)
        self.U = nn.Parameter(torch.randn(hidden_size, hidden_size) / 2)

    def project(self, x):
        return self.linear(x)

    def forward(self, wx, children, parent, slot, return_gates=False):
        (h_k,) = children
        h_sum = wx.new_zeros(wx.shape[0], self.hidden_size).index_add(0, parent, h_k)
        h = torch.tanh(wx + h_sum @ self.U.T)
        return (h,), ({"g": torch.sigmoid(h_k)} if return_gates else None)


def test_a_cell_implementing_only_the_protocol_runs_under_tree_lstm():
    torch.manual_seed(0)
    cell = SumRNNCell(3, 2).double()
    assert isinstance(cell, treelstm.TreeCellProtocol) and not isinstance(cell, treelstm.TreeCell)
    graph = trees.from_parents("0 1 1 2").graph  # root 0; 1, 2 under it; 3 under 1
    x = torch.randn(4, 3, dtype=torch.float64)
    encoder = treelstm.TreeLSTM(cell, mode="fast")
    out = encoder(graph, x)
    assert out.c is None and out.gates is None

    def h(j, children):
        wx = cell.linear(x[j])
        total = sum((h(k, grand) for k, grand in children), torch.zeros(2, dtype=torch.float64))
        return torch.tanh(wx + cell.U @ total)

    expected = [h(3, []), h(2, []), h(1, [(3, [])]), h(0, [(1, [(3, [])]), (2, [])])]
    for j, k in zip([3, 2, 1, 0], range(4)):
        assert torch.allclose(out.h[j], expected[k], atol=1e-12)
    assert torch.allclose(treelstm.TreeLSTM(cell, mode="dgl")(graph, x).h, out.h, atol=1e-12)
    gates = encoder(graph, x, return_gates=True).gates
    assert set(gates) == {"g"} and gates["g"].shape == (4, 2) and (gates["g"][0] == 0).all()
    x_nodes = torch.tensor([2, 3])  # inputs for two nodes: the others' W x + b is project(0) = b
    some = encoder(graph, x[x_nodes], x_nodes=x_nodes).h
    assert torch.allclose(some, encoder(graph, torch.zeros_like(x).index_copy(0, x_nodes, x[x_nodes])).h)
    out.h.sum().backward()
    assert all(p.grad is not None for p in cell.parameters())
    with pytest.raises(ValueError, match="got SumRNNCell"):
        treelstm.TreeLSTM(cell, fused=True)


def test_reprs_show_the_sizes():
    assert repr(treelstm.ChildSumTreeLSTMCell(300, 150)) == "ChildSumTreeLSTMCell(300, 150, output_gate=True)"
    assert repr(treelstm.NaryTreeLSTMCell(30, 15, n_ary=3, output_gate=False)) == (
        "NaryTreeLSTMCell(30, 15, n_ary=3, output_gate=False)"
    )
    assert repr(treelstm.ChainLSTMCell(30, 15)) == "ChainLSTMCell(30, 15)"
    assert repr(treelstm.ChildSumTreeGRUCell(30, 15)) == "ChildSumTreeGRUCell(30, 15)"
    encoder = repr(treelstm.TreeLSTM(treelstm.NaryTreeLSTMCell(30, 15), fused=False))
    assert encoder.startswith("TreeLSTM(\n  mode='fast', fused=False\n  (cell): NaryTreeLSTMCell(30, 15, n_ary=2")
    assert repr(CRF(4)) == "CRF(num_tags=4)"
    allowed = torch.ones(4, 4, dtype=torch.bool)
    allowed[0, 1] = allowed[2, 3] = False
    assert repr(CRF(4, allowed, allowed_start=torch.tensor([True, False, True, True]))) == (
        "CRF(num_tags=4, disallowed: 2 transitions, 1 start and 0 end tags)"
    )
    assert "out_size=50" in repr(CharLSTM(25, 25)) and "(lstm): ChainLSTM(" in repr(CharLSTM(25, 25))
    assert "out_size=30, dropout=0.5" in repr(CharCNN(30, 30, dropout=0.5))
    tagger = repr(SequenceTagger(nn.Embedding(10, 8), num_tags=5, hidden_size=6, crf=CRF(5)))
    assert "num_tags=5, decoder=crf" in tagger and "(lstm): ChainLSTM(" in tagger
    assert "decoder=softmax" in repr(SequenceTagger(nn.Embedding(10, 8), num_tags=5, hidden_size=6))
    sentence = repr(SentenceEncoder(nn.Embedding(10, 8), "childsum", 6))
    assert "cell='childsum', node_size=6, out_size=6" in sentence and "ChildSumTreeLSTMCell(8, 6" in sentence
    chain = repr(SentenceEncoder(nn.Embedding(10, 8), "lstm", 6, num_layers=2, bidirectional=True, all_layers=True))
    assert "cell='lstm', node_size=12, out_size=24, all_layers=True" in chain
    assert "in_features=8, out_features=4" in repr(SimilarityHead(8, 4, 5)) and "out_features=5" in repr(
        SimilarityHead(8, 4, 5)
    )
    assert "in_features=8, out_features=3" in repr(Classifier(8, 3))


def test_the_package_is_typed():
    import importlib.resources

    assert importlib.resources.files("treelstm").joinpath("py.typed").is_file()
