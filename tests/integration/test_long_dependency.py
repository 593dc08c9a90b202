"""The long-dependency demonstration: the generator, the models, the gradient probe, the command."""

import json

import numpy as np
import pytest
import torch

from treelstm import cli, trees
from treelstm.demo.agreement import ADVERBS, PLURAL, SINGULAR, VERB, VOCABULARY, generate, sentence
from treelstm.demo.gradients import first_token_gradient
from treelstm.demo.long_dependency import buckets, table
from treelstm.demo.models import MODELS, AgreementBatch, AgreementModel
from treelstm.nn.cells import ChildSumTreeGRUCell
from treelstm.nn.encoder import TreeLSTM


@pytest.fixture(scope="module")
def examples():
    rng = np.random.default_rng(3)
    return generate(rng.integers(0, 40, 600), rng)


def test_label_is_the_first_words_number_and_distance_as_asked(examples):
    rng = np.random.default_rng(0)
    for d in range(30):
        for label in (0, 1):
            e = sentence(label, d, rng)
            assert e.distance == d and len(e.tokens) == d + 2 and e.tokens[-1] == VERB and VERB not in e.tokens[:-1]
            assert e.tokens[0] in (PLURAL if label else SINGULAR) and e.label == label
            assert [VOCABULARY[i] for i in e.ids] == list(e.tokens)
    assert 0.4 < np.mean([e.label for e in examples]) < 0.6


def test_attractors_carry_no_information(examples):
    """Nouns of both numbers intervene, and the nearest noun to the verb agrees with it only by chance."""
    long = [e for e in examples if e.distance >= 8]
    nearest = [[t for t in e.tokens[1:-1] if t in SINGULAR + PLURAL][-1:] for e in long]
    pairs = [(e.label, t[0] in PLURAL) for e, t in zip(long, nearest) if t]
    assert len(pairs) > 200
    assert 0.4 < np.mean([label == plural for label, plural in pairs]) < 0.6
    attractors = [t in PLURAL for e in long for t in e.tokens[1:-1] if t in SINGULAR + PLURAL]
    assert 0.4 < np.mean(attractors) < 0.6 and {t for e in long for t in e.tokens[1:-1]} >= set(SINGULAR + PLURAL)


def _ancestors(parents, k):
    while parents[k] >= 0:
        k = parents[k]
        yield k


def test_trees_are_valid_projective_and_give_the_subject_a_shortcut(examples):
    for e in examples:
        parents, n = e.tree.parents, len(e.tokens)
        rebuilt = trees.from_parents((parents + 1).tolist(), e.tokens)  # the validating builder
        assert (rebuilt.parents == parents).all() and (rebuilt.slots == e.tree.slots).all()
        assert e.tree.root == n - 1 and parents[0] == n - 1  # the subject is one edge from the root
        for k in range(1, n - 1):  # every intervening word but a final adverb hangs below the subject
            assert 0 in _ancestors(parents, k) or (k == n - 2 and e.tokens[k] in ADVERBS and parents[k] == n - 1)
        arcs = [sorted((k, int(p))) for k, p in enumerate(parents) if p >= 0]
        assert not any(a < c < b < e_ for a, b in arcs for c, e_ in arcs), "crossing arcs"


def test_generation_is_deterministic_per_seed():
    def make(seed):
        rng = np.random.default_rng(seed)
        return [(e.tokens, e.tree.parents.tolist()) for e in generate(rng.integers(0, 20, 50), rng)]

    assert make(5) == make(5) and make(5) != make(6)


def test_bad_arguments_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="label"):
        sentence(2, 3, rng)
    with pytest.raises(ValueError, match="distance"):
        sentence(0, -1, rng)
    with pytest.raises(ValueError, match="unknown model"):
        AgreementModel("transformer", 4, 4)


def test_batch_rows_and_every_model_shapes(examples):
    batch = AgreementBatch.of(list(examples[:7]))
    assert batch.first.tolist() == np.r_[0, np.cumsum([len(e.ids) for e in examples[:7]])[:-1]].tolist()
    assert (batch.ids[batch.last] == VOCABULARY.index(VERB)).all()
    for name in MODELS:
        assert AgreementModel(name, 5, 6)(batch).shape == (7, 2)


def test_the_gru_over_chains_is_chos_gru():
    torch.manual_seed(0)
    cell, x = ChildSumTreeGRUCell(3, 4), torch.randn(5, 3)
    h = TreeLSTM(cell)(trees.chains([5]), x).h
    wz, wh, wr = (x @ cell.W.T + cell.b).chunk(3, dim=1)
    state = torch.zeros(4)
    for t in range(5):
        z, r = torch.sigmoid(wz[t] + cell.U_z @ state), torch.sigmoid(wr[t] + cell.U_r @ state)
        state = (1 - z) * torch.tanh(wh[t] + cell.U_h @ (r * state)) + z * state
        assert torch.allclose(h[t], state, atol=1e-6)


def test_gradient_of_a_scaled_rotation_is_the_scale():
    """h_b = a_b Q x_{first_b} with Q orthogonal: whatever unit u is drawn, |Q^T u a_b| = |a_b|."""
    Q = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))[0]
    scale, first = torch.tensor([[2.0], [-0.5]], dtype=torch.float64), torch.tensor([0, 3])
    x = torch.randn(5, 3, dtype=torch.float64)
    norms = first_token_gradient(lambda x: scale * x[first] @ Q.T + x[[1, 4]] ** 2, x, first,
                                 torch.Generator().manual_seed(1))
    assert torch.allclose(norms, torch.tensor([2.0, 0.5], dtype=torch.float64))


def test_no_path_means_no_gradient(examples):
    """Without recurrent weights a tanh RNN's last state cannot see the first token; the Tree-LSTM's root can."""
    batch = AgreementBatch.of([e for e in examples if e.distance > 0][:6])
    rnn, tree = AgreementModel("tanh RNN", 4, 5), AgreementModel("Tree-LSTM", 4, 5)
    with torch.no_grad():
        rnn.encoder.rnn.weight_hh_l0.zero_()
    for model, zero in ((rnn, True), (tree, False)):
        norms = first_token_gradient(lambda x: model.encode(x, batch), model.embedding(batch.ids), batch.first,
                                     torch.Generator().manual_seed(0))
        assert norms.shape == (6,) and bool((norms == 0).all()) == zero and bool((norms > 0).all()) != zero


def test_buckets_and_table():
    settings = {"min_distance": 4, "max_distance": 8, "test_distances": [0, 4, 8, 12, 20]}
    assert buckets(settings) == [("shorter than trained (0)", [0]), ("trained (4-8)", [4, 8]),
                                 ("beyond, up to 2x (12)", [12]), ("beyond 2x (20)", [20])]
    record = {"accuracy": [[1.0, 0.5, 0.7, 0.5, 0.5], [1.0, 1.0, 1.0, 0.5, 0.6]], "train_seconds": [2, 4]}
    text = table({"settings": settings, "models": {"m": record}})
    assert text.splitlines()[2] == "| m | 1.00 (1.00-1.00) | 0.80 (0.60-1.00) | 0.50 (0.50-0.50) | 0.55 (0.50-0.60) | 3 |"


def test_demo_command_quick_writes_figure_and_numbers(tmp_path, capsys):
    out = tmp_path / "img" / "long.png"
    out.parent.mkdir()  # an --output's folder must exist
    assert cli.main(["demo", "long-dependency", "--quick", "--output", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads(out.with_suffix(".json").read_text())
    distances = results["settings"]["test_distances"]
    assert list(results["models"]) == list(MODELS)
    for record in results["models"].values():
        assert len(record["accuracy"]) == 1 and len(record["accuracy"][0]) == len(distances)
        assert all(0 <= a <= 1 for a in record["accuracy"][0])
        assert all(g > 0 for g in record["gradient_init"][0] + record["gradient_trained"][0])
    printed = capsys.readouterr().out
    assert "| Tree-LSTM |" in printed and str(out) in printed


@pytest.mark.parametrize("argv, message", [
    (["--output", "x.svg"], "give a .png path"),
    (["--min-distance", "5", "--max-distance", "3"], "min distance"),
    (["--seeds", "0"], "--seeds"),
])
def test_demo_command_user_errors_are_one_line(argv, message, capsys):
    assert cli.main(["demo", "long-dependency", "--quick", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("treelstm: error:") and message in err and err.count("\n") == 1
