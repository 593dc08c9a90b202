"""The hand-written backward of treelstm.nn.fused_levels against autograd through the cells."""

import pytest
import torch

import treelstm
from conftest import CELLS, forest_for
from treelstm import trees
from treelstm.nn import fused_levels
from treelstm.nn.cells import ChildSumTreeGRUCell
from treelstm.trees.schedule import LevelSchedule


@pytest.mark.parametrize("name", [n for n in CELLS if "gru" not in n])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-11)])
@pytest.mark.parametrize("loss_of", ["h", "c", "both"])
def test_fused_levels_equal_autograd_through_the_cells(name, dtype, tol, loss_of, mixed_trees, binary_trees):
    graph = trees.batch(forest_for(name, mixed_trees, binary_trees))
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(CELLS[name](7, 5).to(dtype))
    assert fused_levels.supports(encoder.cell)
    x = torch.randn(graph.num_nodes(), 7, dtype=dtype, requires_grad=True)
    weights = torch.randn(2, graph.num_nodes(), 5, dtype=dtype)

    def run(**kwargs):
        h, c = encoder(graph, x, **kwargs)[:2]
        loss = {"h": (weights[0] * h).sum() + h.pow(2).sum(), "c": (weights[1] * c).sum(),
                "both": (weights[0] * h).sum() + (weights[1] * c).pow(2).sum()}[loss_of]
        grads = torch.autograd.grad(loss, [x, *encoder.parameters()])
        return h, c, grads

    fused = run()  # no gates asked for: the fused Function
    reference = run(return_gates=True)  # autograd through the cells, level by level
    for a, b in zip(fused[:2], reference[:2]):
        assert (a - b).abs().max() <= tol
    for a, b in zip(fused[2], reference[2]):
        assert (a - b).abs().max() <= tol * 10


def test_a_cell_that_changes_the_equations_is_not_fused():
    class Scaled(treelstm.ChildSumTreeLSTMCell):
        def forward(self, *args, **kwargs):
            (h, c), gates = super().forward(*args, **kwargs)
            return (2 * h, c), gates

    assert not fused_levels.supports(Scaled(3, 2))
    assert not fused_levels.supports(ChildSumTreeGRUCell(3, 2))
    assert fused_levels.supports(treelstm.ChainLSTMCell(3, 2))


def test_fused_levels_run_without_gradients():
    graph = trees.from_parents("2 0 2 2").graph
    encoder = treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(3, 4))
    x = torch.randn(4, 3)
    with torch.no_grad():
        h, c, _ = encoder(graph, x)
    h_ref, c_ref, _ = encoder(graph, x, return_gates=True)
    assert torch.allclose(h, h_ref, atol=1e-6) and torch.allclose(c, c_ref, atol=1e-6)


@pytest.mark.parametrize("mode", ["fast", "dgl"])
@pytest.mark.parametrize("gates", [False, True])
def test_inputs_for_some_nodes_equal_zero_rows_for_the_others(mode, gates, binary_trees):
    graph = trees.batch(binary_trees)
    torch.manual_seed(0)
    encoder = treelstm.TreeLSTM(treelstm.NaryTreeLSTMCell(4, 3), mode=mode)
    x_nodes = torch.tensor([k for k in range(graph.num_nodes()) if k % 3 != 1])
    x = torch.randn(len(x_nodes), 4, requires_grad=True)
    full = torch.zeros(graph.num_nodes(), 4).index_copy(0, x_nodes, x)

    def run(**kwargs):
        h, c = encoder(return_gates=gates, **kwargs)[:2]
        grads = torch.autograd.grad((h.sin() * c).sum(), [x, *encoder.parameters()])
        return h, c, grads

    some, every = run(graph=graph, x=x, x_nodes=x_nodes), run(graph=graph, x=full)
    for a, b in zip([*some[:2], *some[2]], [*every[:2], *every[2]]):
        assert (a - b).abs().max() <= 1e-6
    with pytest.raises(ValueError, match="len\\(x_nodes\\)"):
        encoder(graph, full, x_nodes=x_nodes)


@pytest.mark.parametrize("output_gate", [True, False])
def test_inputs_at_leaves_only_project_with_the_node_gates_rows(output_gate, binary_trees):
    """Words at the leaves only (constituency trees): the fused N-ary path projects them with the node
    gates' rows of W (a leaf has no children to forget); the same states and gradients as autograd
    through the cells (fused=False) and DGL message passing, and W's forget rows get zero gradient."""
    graph = trees.batch(binary_trees)
    torch.manual_seed(0)
    cell = treelstm.NaryTreeLSTMCell(4, 3, output_gate=output_gate)
    schedule = LevelSchedule.from_graph(graph)
    leaves = torch.nonzero(graph.in_degrees() == 0).squeeze(1)
    assert fused_levels.project_leaves(cell, torch.randn(len(leaves), 4), leaves, schedule) is not None
    x = torch.randn(len(leaves), 4, requires_grad=True)

    def run(**kwargs):
        h, c = treelstm.TreeLSTM(cell, **kwargs)(graph, x, x_nodes=leaves)[:2]
        grads = torch.autograd.grad((h.sin() * c).sum(), [x, *cell.parameters()])
        return h, c, grads

    fused, reference, dgl = run(), run(fused=False), run(mode="dgl")
    for other in (reference, dgl):
        for a, b in zip([*fused[:2], *fused[2]], [*other[:2], *other[2]]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    forget_rows = fused[2][1][(3 if output_gate else 2) * 3 :]  # W's forget-gate rows
    assert forget_rows.abs().max() == 0
    internal = torch.nonzero(graph.in_degrees() > 0).squeeze(1)[:1]  # an internal node with an input: full rows
    assert fused_levels.project_leaves(cell, torch.randn(len(leaves) + 1, 4), torch.cat([leaves, internal]),
                                       schedule) is None
    told = {at: fused_levels.project_leaves(cell, x, leaves, schedule, at_leaves=at) for at in (True, False)}
    assert told[False] is None  # the caller says no: the full projection
    torch.testing.assert_close(told[True], fused_levels.project_leaves(cell, x, leaves, schedule))
    meta_cell = treelstm.NaryTreeLSTMCell(4, 3, output_gate=output_gate).to("meta")
    on_meta = fused_levels.project_leaves(meta_cell, x.to("meta"), leaves.to("meta"), schedule, at_leaves=True)
    assert on_meta is not None and on_meta.device.type == "meta"  # told, it needs no read of the device tensor
    assert fused_levels.project_leaves(meta_cell, x.to("meta"), leaves.to("meta"), schedule) is None  # not told: not read
