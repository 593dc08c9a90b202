"""ChainLSTM equals torch.nn.LSTM, forward and gradients, on both of its paths; their state dicts
load both ways; a seed draws the same weights as the cells used to."""

import copy

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

    # parameter gradients: the same names and layout as torch's; bias_hh is frozen unless asked
    ((out * weights).sum() + h_n.sum()).backward()
    ((ref_out * weights).sum() + ref_h.sum()).backward()
    grads = dict(lstm.named_parameters())
    for name, param in chain.named_parameters():
        if name.startswith("bias_hh"):
            assert not param.requires_grad and param.grad is None
        else:
            assert torch.allclose(param.grad, grads[name].grad, atol=1e-12), name


@pytest.mark.parametrize("fused", [True, False])
def test_a_trainable_bias_hh_gets_torch_s_gradient(fused):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(6, 4, num_layers=2, bidirectional=True).double()
    chain = treelstm.ChainLSTM.from_lstm(lstm, fused=fused)
    for param in chain.parameters():
        param.requires_grad_(True)
    x = torch.randn(sum(LENGTHS), 6, dtype=torch.float64)
    out, (h_n, _) = chain(trees.batch([trees.chain(n) for n in LENGTHS]), x)
    ref_out, ref_h, _ = reference(lstm, x, LENGTHS)
    (out.sum() + h_n.sum()).backward()
    (ref_out.sum() + ref_h.sum()).backward()
    grads = dict(lstm.named_parameters())
    for name, param in chain.named_parameters():
        assert torch.allclose(param.grad, grads[name].grad, atol=1e-12), name


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_state_dicts_load_both_ways_between_chain_lstm_and_torch_lstm(num_layers, bidirectional):
    torch.manual_seed(3)
    lstm = torch.nn.LSTM(6, 4, num_layers=num_layers, bidirectional=bidirectional).double()
    chain = treelstm.ChainLSTM(6, 4, num_layers=num_layers, bidirectional=bidirectional).double()
    assert {k: v.shape for k, v in chain.state_dict().items()} == {k: v.shape for k, v in lstm.state_dict().items()}
    assert list(chain.state_dict()) == list(lstm.state_dict())
    graph = trees.batch([trees.chain(n) for n in LENGTHS])
    x = torch.randn(sum(LENGTHS), 6, dtype=torch.float64)

    chain.load_state_dict(lstm.state_dict())  # nn.LSTM -> ChainLSTM: bias_hh is not zero here
    for fused in (True, False):
        chain.fused = fused
        out, (h_n, c_n) = chain(graph, x)
        ref_out, ref_h, ref_c = reference(lstm, x, LENGTHS)
        assert torch.allclose(out, ref_out, atol=1e-12) and torch.allclose(h_n, ref_h, atol=1e-12)
        assert torch.allclose(c_n, ref_c, atol=1e-12)
    assert list(chain.state_dict()) == list(lstm.state_dict())  # the cells' path adds no parameters
    assert torch.equal(copy.deepcopy(chain)(graph, x)[0], chain(graph, x)[0])

    other = treelstm.ChainLSTM(6, 4, num_layers=num_layers, bidirectional=bidirectional).double()
    lstm.load_state_dict(other.state_dict())  # ChainLSTM -> nn.LSTM
    out, (h_n, c_n) = other(graph, x)
    ref_out, ref_h, ref_c = reference(lstm, x, LENGTHS)
    assert torch.allclose(out, ref_out, atol=1e-12) and torch.allclose(h_n, ref_h, atol=1e-12)
    assert torch.allclose(c_n, ref_c, atol=1e-12)


def test_the_parameters_are_the_cells_in_torch_s_gate_order_drawn_as_the_cells_draw_them():
    """A seed gives the weights the ChainLSTMCells drew: per layer and direction W, b, U in the
    cells' row order (i, o, u, f), which the parameters hold as torch's (i, f, g, o)."""
    torch.manual_seed(4)
    chain = treelstm.ChainLSTM(5, 3, num_layers=2, bidirectional=True)
    after = torch.rand(2)
    torch.manual_seed(4)
    cells = [treelstm.ChainLSTMCell(5 if layer == 0 else 6, 3) for layer in range(2) for _ in range(2)]
    assert torch.equal(after, torch.rand(2))  # the same number of draws
    for k, cell in enumerate(cells):
        params = chain.cell_parameters(k // 2, k % 2)
        for name in ("W", "U", "b"):
            assert torch.equal(params[name], getattr(cell, name)), (k, name)
        assert torch.equal(chain.cell(k // 2, k % 2).W, cell.W)
    H = 3
    i, o, u, f = (slice(k * H, (k + 1) * H) for k in range(4))
    assert torch.equal(chain.weight_ih_l0, torch.cat([cells[0].W[i], cells[0].W[f], cells[0].W[u], cells[0].W[o]]))
    assert torch.equal(chain.weight_hh_l1_reverse[H : 2 * H], cells[3].U[f])
    assert not chain.bias_hh_l0.any() and not chain.bias_hh_l0.requires_grad


def test_the_cell_of_a_layer_gives_its_gates():
    torch.manual_seed(5)
    chain = treelstm.ChainLSTM(3, 4, bidirectional=True)
    graph, x = trees.chain(6).graph, torch.randn(6, 3)
    h, _, gates = treelstm.TreeLSTM(chain.cell(0, 0))(graph, x, return_gates=True)
    out, _ = chain(graph, x)
    assert torch.allclose(h, out[:, :4], atol=1e-6)
    assert set(gates) >= {"i", "o", "u", "f"}


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
    with pytest.raises(ValueError, match="ChainLSTM: graph must be chains"):
        chain(trees.from_parents("2 0 2").graph, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="x must be a float32 tensor of shape \\(num_nodes=4, input_size=3\\)"):
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


def test_char_lstm_packed_path_equals_the_cells():
    """CharLSTM packs the padded words for torch's kernel directly (fused); the cells run the chain graph."""
    from treelstm.nn.characters import CharLSTM, char_ids

    torch.manual_seed(0)
    encoder = CharLSTM(6, 5)
    ids, lengths = char_ids(["U.N.", "official", "Ekeus", "a", "heads", "for", "Baghdad", "."])

    def run(fused):
        encoder.lstm.fused = fused
        out = encoder(ids, lengths)
        trained = [p for p in encoder.parameters() if p.requires_grad]
        return out, torch.autograd.grad(out.sin().sum(), trained, allow_unused=True)

    (packed, grads), (cells, cell_grads) = run(True), run(False)
    torch.testing.assert_close(packed, cells, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads, cell_grads):
        if a is not None or b is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
