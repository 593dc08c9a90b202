"""ChainLSTM equals torch.nn.LSTM, forward and gradients, on both of its paths."""

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

import treelstm
from treelstm import trees

LENGTHS = [5, 1, 8, 3, 8]


def reference(lstm, x, lengths):
    """torch.nn.LSTM over the same sentences: every token's output and the final states."""
    packed = pack_sequence(list(x.split(lengths)), enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed)
    padded, _ = pad_packed_sequence(out, batch_first=True)
    return torch.cat([padded[b, :n] for b, n in enumerate(lengths)]), h_n, c_n


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (1, True), (2, False), (2, True)])
def test_chain_lstm_equals_torch_lstm(fused, num_layers, bidirectional):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(6, 4, num_layers=num_layers, bidirectional=bidirectional).double()
    chain = treelstm.ChainLSTM.from_lstm(lstm, fused=fused)
    graph = trees.batch([trees.chain(n) for n in LENGTHS])
    x = torch.randn(sum(LENGTHS), 6, dtype=torch.float64, requires_grad=True)

    out, (h_n, c_n) = chain(graph, x)
    ref_out, ref_h, ref_c = reference(lstm, x, LENGTHS)
    assert torch.allclose(out, ref_out, atol=1e-12)
    assert torch.allclose(h_n, ref_h, atol=1e-12) and torch.allclose(c_n, ref_c, atol=1e-12)

    weights = torch.randn_like(out)
    (grad_x,) = torch.autograd.grad((out * weights).sum() + h_n.sum(), x, retain_graph=True)
    (ref_grad_x,) = torch.autograd.grad((ref_out * weights).sum() + ref_h.sum(), x, retain_graph=True)
    assert torch.allclose(grad_x, ref_grad_x, atol=1e-12)

    # parameter gradients: the cell's W is torch's weight_ih with rows reordered, b is b_ih (+ b_hh)
    ((out * weights).sum() + h_n.sum()).backward()
    ((ref_out * weights).sum() + ref_h.sum()).backward()
    D = 2 if bidirectional else 1
    H = lstm.hidden_size
    rows = torch.cat([torch.arange(H) + H * k for k in (0, 3, 2, 1)])  # torch (i,f,g,o) block of our (i,o,u,f)
    for layer in range(num_layers):
        for direction in range(D):
            cell = chain.cells[layer * D + direction]
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            assert torch.allclose(cell.W.grad[rows], getattr(lstm, "weight_ih" + suffix).grad, atol=1e-12)
            assert torch.allclose(cell.U.grad[rows], getattr(lstm, "weight_hh" + suffix).grad, atol=1e-12)
            assert torch.allclose(cell.b.grad[rows], getattr(lstm, "bias_ih" + suffix).grad, atol=1e-12)


def test_fused_and_cell_paths_agree_in_float32():
    torch.manual_seed(1)
    chain = treelstm.ChainLSTM(5, 7, num_layers=2, bidirectional=True)
    graph = trees.batch([trees.chain(n) for n in LENGTHS])
    x = torch.randn(sum(LENGTHS), 5)
    fused = chain(graph, x)
    chain.fused = False
    cells = chain(graph, x)
    assert (fused[0] - cells[0]).abs().max() < 1e-6
    assert (fused[1][0] - cells[1][0]).abs().max() < 1e-6


def test_chain_lstm_accepts_chains_numbered_in_any_order():
    """A chain is read along its edges, not by node id."""
    torch.manual_seed(2)
    lstm = torch.nn.LSTM(3, 2).double()
    line = "0 1 2 3"  # node 0 is the last token, node 3 the first
    graph = trees.from_parents(line).graph
    x = torch.randn(4, 3, dtype=torch.float64)
    for fused in (True, False):
        out, _ = treelstm.ChainLSTM.from_lstm(lstm, fused=fused)(graph, x)
        ref, _ = lstm(x.flip(0))
        assert torch.allclose(out, ref.flip(0), atol=1e-12)


def test_chain_lstm_rejects_trees_and_bad_shapes():
    chain = treelstm.ChainLSTM(3, 2)
    with pytest.raises(ValueError, match="ChainLSTM needs chains"):
        chain(trees.from_parents("2 0 2").graph, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="x must be \\(num_nodes=4, input_size\\)"):
        chain(trees.chain(4).graph, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="num_layers must be at least 1"):
        treelstm.ChainLSTM(3, 2, num_layers=0)


def test_a_dropout_between_layers_is_applied_only_in_training():
    torch.manual_seed(0)
    chain = treelstm.ChainLSTM(3, 4, num_layers=2, dropout=0.5)
    graph, x = trees.chain(6).graph, torch.randn(6, 3)
    chain.eval()
    assert torch.equal(chain(graph, x)[0], chain(graph, x)[0])
    chain.train()
    assert not torch.equal(chain(graph, x)[0], chain(graph, x)[0])
