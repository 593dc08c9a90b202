"""treelstm explain: per-node predictions and gates of tiny sentiment and paraphrase checkpoints, the CLI."""

import numpy as np
import pytest
import torch

from treelstm import cli
from treelstm.models.batch import TreeBatch
from treelstm.nn.encoder import TreeLSTM
from treelstm.runner.predict import explain, load
from treelstm.text.parsing import parse
from treelstm.trees import binarize
from treelstm_tasks.classification import TextBatch as SentenceBatch

PTB = "(3 (2 a) (4 (3 (2 big) (4 happy)) (2 dog)))"
PAIR = ("The big dog sleeps in the park.", "A happy dog plays in the park.")


def run(*argv):
    return cli.main([str(a) for a in argv])


@pytest.fixture
def checkpoints(tiny_checkpoints):
    return tiny_checkpoints


def model_node_probabilities(predictor, tree):
    """The sentiment model's own per-node probabilities and sentence prediction, through its forward."""
    n = tree.num_nodes
    batch = SentenceBatch(TreeBatch.of([tree], predictor.vocab), torch.full((n,), -1), torch.zeros(1, dtype=torch.long))
    with torch.no_grad():
        node_logits, _ = predictor.model(batch)
        return node_logits.softmax(dim=-1).numpy(), int(predictor.task.predict(predictor.model, batch))


@pytest.mark.parametrize("name, labels", [("sst", None), ("sst-binary", ("negative", "positive"))])
def test_sentiment_probabilities_are_the_models_own(checkpoints, name, labels):
    predictor = load(checkpoints[name])
    result = explain(predictor, tree=PTB)
    (explained,) = result.trees
    tree = explained.tree
    assert tree.tokens[:4] == ("a", "big", "happy", "dog") and tree.num_nodes == 7
    expected, predicted = model_node_probabilities(predictor, tree)
    np.testing.assert_allclose(explained.probabilities, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(result.probabilities, explained.probabilities[tree.root])
    assert result.label == result.classes[predicted] and (labels is None or result.label in labels)
    assert len(result.classes) == len(result.symbols) == expected.shape[1] == (3 if labels else 5)
    assert result.symbols == (("neg", "neu", "pos") if labels else ("vn", "neg", "neu", "pos", "vp"))
    assert explained.gates == {} and not explained.unknown.any()


def test_gates_are_the_cells_own(checkpoints):
    predictor = load(checkpoints["sst"])
    (explained,) = explain(predictor, tree=PTB, gates=True).trees
    tree, gates = explained.tree, explained.gates
    assert set(gates) == {"i", "o", "u", "f"} and explained.per_child_gate == "f"
    assert all(g.shape == (7, 8) for g in gates.values())
    assert all(((0 <= gates[g]) & (gates[g] <= 1)).all() for g in "iof") and (np.abs(gates["u"]) <= 1).all()
    assert (gates["f"][tree.root] == 0).all() and (gates["f"][:tree.root] > 0).all()
    encoder = predictor.model.encoder  # the same gates from the reference (DGL message passing) mode
    with torch.no_grad():
        x = encoder.embedding(TreeBatch.of([tree], predictor.vocab).token_ids)
        _, _, reference = TreeLSTM(encoder.recurrent.cell, mode="dgl")(tree.graph, x, return_gates=True)
    for name, value in reference.items():
        np.testing.assert_allclose(gates[name], value.numpy(), rtol=1e-5, atol=1e-6)


def test_raw_text_trees(checkpoints):
    text = "The big dog sleeps in the park."
    parsed = parse([text])[0]
    constituency = explain(checkpoints["sst"], text).trees[0]  # the binarised spaCy parse
    assert constituency.tree.parents.tolist() == binarize(parsed).parents.tolist()
    assert [t for t in constituency.tree.tokens if t] == list(parsed.tokens) and constituency.tree.num_nodes == 15
    assert constituency.unknown.tolist() == [t in ("The", ".") for t in parsed.tokens] + [False] * 7
    predictor = load(checkpoints["sst-dependency"])
    dependency = explain(predictor, text).trees[0]
    assert dependency.tree.parents.tolist() == parsed.parents.tolist()
    np.testing.assert_allclose(dependency.probabilities, model_node_probabilities(predictor, parsed)[0], rtol=1e-5)
    from_ptb = explain(predictor, tree=PTB).trees[0].tree  # a dependency model reads the tree's words
    assert from_ptb.tokens == ("a", "big", "happy", "dog")


def test_paraphrase_roots_give_the_pairs_prediction(checkpoints):
    predictor = load(checkpoints["msrp"])
    result = explain(predictor, pair=PAIR, gates=True)
    (predicted,) = predictor([PAIR])
    assert result.classes == ("not_paraphrase", "paraphrase") and result.label == predicted["label"]
    assert result.probabilities[result.classes.index(result.label)] == pytest.approx(predicted["probability"], abs=1e-6)
    assert [t.tree.tokens for t in result.trees] == [t.tokens for t in parse(list(PAIR))]
    for explained in result.trees:
        np.testing.assert_allclose(explained.probabilities[explained.tree.root], result.probabilities, atol=1e-6)
        np.testing.assert_allclose(explained.probabilities.sum(axis=1), 1, atol=1e-6)
        assert explained.gates["f"].shape == (explained.tree.num_nodes, 8)
    leaves = result.trees[0].probabilities[:, 1]  # a phrase is scored against the whole other sentence
    assert np.ptp(leaves) > 0


def test_pair_regression_explains_a_score(checkpoints):
    predictor = load(checkpoints["sick"])
    result = explain(predictor, pair=PAIR)
    (predicted,) = predictor([PAIR])
    points = [float(c) for c in result.classes]
    assert result.label == f"{predicted['score']:.2f}" and points == sorted(points) and len(points) == 5
    assert float(np.dot(result.probabilities, points)) == pytest.approx(predicted["score"], abs=1e-5)


@pytest.mark.parametrize("name, inputs, message", [
    ("sst", {"pair": PAIR}, "this model classifies one text: give text (--text) or a PTB tree (--tree), not a pair"),
    ("sst", {"text": "  "}, "text: the text is empty"),
    ("sst", {"tree": "(3 (2 a)"}, "tree: offset 0: '(' is never closed"),
    ("sst", {"text": "a", "tree": PTB}, "explain takes one input: text, tree or pair (got text, tree)"),
    ("sst-chain", {"text": "a dog"}, "explain draws tree models; this checkpoint's model is a chain LSTM"),
    ("msrp", {"text": "a dog"}, "this model compares two texts: give a pair (--pair TEXT1 TEXT2)"),
    ("msrp", {"pair": ("A dog.", " ")}, "text 2: the text is empty"),
    ("sick", {"text": "a dog"}, "this model compares two texts: give a pair (--pair TEXT1 TEXT2)"),
])
def test_inputs_explain_cannot_take(checkpoints, name, inputs, message):
    with pytest.raises(ValueError) as error:
        explain(checkpoints[name], **inputs)
    assert str(error.value).startswith(message)


def test_cli_draws_svg_and_png(checkpoints, tmp_path, capsys):
    (tmp_path / "fig").mkdir()  # an --output's folder must exist
    assert run("explain", checkpoints["sst"], "--text", "The big dog sleeps.", "--gates",
               "--output", tmp_path / "fig" / "dog.svg") == 0
    label, svg, png = capsys.readouterr().out.splitlines()
    assert label.split("\t")[0] in ("very_negative", "negative", "neutral", "positive", "very_positive")
    assert label.split("\t")[1].startswith("very_negative 0.")
    assert (svg, png) == (str(tmp_path / "fig" / "dog.svg"), str(tmp_path / "fig" / "dog.png"))
    assert (tmp_path / "fig" / "dog.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run("explain", checkpoints["msrp"], "--pair", *PAIR, "--output", tmp_path / "pair") == 0
    assert capsys.readouterr().out.splitlines()[1:] == [str(tmp_path / "pair.svg"), str(tmp_path / "pair.png")]


@pytest.mark.parametrize("argv, message", [
    (["sick", "--text", "A dog."], "this model compares two texts: give a pair (--pair TEXT1 TEXT2)"),
    (["sst", "--text", ""], "text: the text is empty"),
    (["missing", "--text", "a dog"],
     "argument CHECKPOINT: {missing} does not exist, expected a folder (see treelstm explain --help)"),
    (["sst", "--text", "a", "--pair", "b", "c"], "explain takes one input: text, tree or pair (got text, pair)"),
])
def test_cli_errors_are_one_line_and_exit_2(checkpoints, tmp_path, capsys, argv, message):
    missing = tmp_path / "no-checkpoint"
    folder = checkpoints.get(argv[0], missing)
    assert run("explain", folder, *argv[1:], "--output", tmp_path / "x") == 2
    assert capsys.readouterr().err == f"treelstm: error: {message.format(missing=missing)}\n"
    assert not (tmp_path / "x.png").exists()
