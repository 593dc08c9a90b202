"""The options of issue 19 through the CLI on tiny data: the attentive Tree-LSTM on MSRP (train,
evaluate, predict, explain), SICK with dropout, SST with the reference code's leaves, NER with the
literature's options; and the defaults give the numbers they gave before the options existed."""

import json

from treelstm import cli
from treelstm.runner.predict import explain, load
from treelstm.runner.tables import render_table

MSRP = ("name: tiny-msrp\ntask: pair-classification\ndata: {format: msrp, tree: dependency}\n"
        "embeddings: {vectors: tiny.txt, freeze: false, lr: 0.1}\n"
        "model: {cell: childsum-attentive, hidden_size: 8, head_hidden: 5}\ntraining: {epochs: 2, batch_size: 5}\n")


def run(*argv):
    return cli.main([str(a) for a in argv])


def metrics(runs, name):
    """The run's training losses, its best epoch and that epoch's dev and test metrics."""
    folder = runs / name / "seed-1"
    found = json.loads((folder / "test_metrics.json").read_text())
    losses = [json.loads(line)["train_loss"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return {"losses": losses} | {key: found[key] for key in ("epoch", "dev", "test")}


def train(config, runs, root, name, *sets):
    args = [x for s in [*sets, f"name={name}"] for x in ("--set", s)]
    assert run("train", config, *args, "--data-dir", root, "--runs-dir", runs) == 0
    return metrics(runs, name)


def test_attentive_tree_lstm_trains_predicts_and_explains(tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    (tmp_path / "msrp.yaml").write_text(MSRP, encoding="utf-8")
    runs = tmp_path / "runs"
    first = train(tmp_path / "msrp.yaml", runs, data_root, "a")
    assert first == train(tmp_path / "msrp.yaml", runs, data_root, "b")  # deterministic
    predictor = load(runs / "a" / "seed-1" / "checkpoint")
    (out,) = predictor.predict([("The big dog sleeps in the park.", "A happy dog plays in the park.")])
    assert out["label"] in ("not_paraphrase", "paraphrase") and 0 <= out["probability"] <= 1
    result = explain(predictor, pair=("The big dog sleeps.", "A dog sleeps in the park."), gates=True)
    assert len(result.trees) == 2 and set(result.trees[0].gates) == {"i", "o", "u", "f"}


def test_the_defaults_are_the_numbers_before_the_options(tmp_path, data_root, configs, monkeypatch):
    """0 dropouts, gated leaves, lowercase NER words: the same metrics as configs without those keys."""
    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    for config, sets in [("sick.yaml", ["model.dropout=0.0", "model.embedding_dropout=0.0"]),
                         ("sst.yaml", ["model.leaf=gated", "model.embedding_dropout=0.0"]),
                         ("ner.yaml", ["model.lowercase=true", "model.word_dropout=0.0",
                                       "model.variational_dropout=false"])]:
        plain = train(configs / config, runs, data_root, f"plain-{config}")
        assert plain == train(configs / config, runs, data_root, f"explicit-{config}", *sets), config


def test_the_options_change_the_runs(tmp_path, data_root, configs, monkeypatch):
    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    runs, plain = tmp_path / "runs", {}
    for config, sets in [("sick.yaml", ["model.dropout=0.3"]), ("sick.yaml", ["model.embedding_dropout=0.3"]),
                         ("sst.yaml", ["model.leaf=linear"]),
                         ("ner.yaml", ["model.word_dropout=0.2", "model.variational_dropout=true",
                                       "training.optimizer=nadam"])]:
        if config not in plain:
            plain[config] = train(configs / config, runs, data_root, f"plain-{config}")
        changed = train(configs / config, runs, data_root, f"changed-{'-'.join(sets)}", *sets)
        assert plain[config] != changed, sets



def test_train_on_dev_trains_on_both_splits_and_keeps_the_last_epoch(tmp_path, data_root, configs, monkeypatch):
    """``training.train_on_dev``: every epoch sees train + dev (the batches say so), the model kept is the
    last epoch's even when dev was better earlier, the card says what it trained on; with patience it is
    a config error."""
    from treelstm.runner import training

    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    runs, sizes = tmp_path / "runs", []
    real = training.batches
    monkeypatch.setattr(training, "batches", lambda examples, *a: sizes.append(len(examples)) or real(examples, *a))
    held_out = train(configs / "ner.yaml", runs, data_root, "held-out", "training.epochs=4")
    train_sizes, sizes[:] = set(sizes), []
    both = train(configs / "ner.yaml", runs, data_root, "both", "training.epochs=4", "training.train_on_dev=true")
    ner_train, ner_dev = 60, 15  # write_conll's sentence counts
    assert max(train_sizes) == ner_train and max(sizes) == ner_train + ner_dev
    assert both["epoch"] == 4 and held_out["losses"] != both["losses"]
    found = {name: json.loads((runs / name / "seed-1" / "test_metrics.json").read_text()) for name in ("both", "held-out")}
    assert found["both"]["train_on_dev"] is True and "train_on_dev" not in found["held-out"]
    table = {"title": "t", "metrics": ["f1"], "source": "s"}
    assert "the last epoch where the row trains on train + dev" in render_table(table, [{"name": "a"}], [[found["both"]]], 1)
    assert "the last epoch" not in render_table(table, [{"name": "a"}], [[found["held-out"]]], 1)
    card = (runs / "both" / "seed-1" / "checkpoint" / "README.md").read_text(encoding="utf-8")
    assert "| training data | train and dev" in card and "| dev (trained on) |" in card
    assert "| training data | train (the best dev epoch kept) |" in (
        runs / "held-out" / "seed-1" / "checkpoint" / "README.md").read_text(encoding="utf-8")
    args = ["--set", "training.train_on_dev=true", "--set", "training.patience=2", "--set", "name=bad"]
    assert run("train", configs / "ner.yaml", *args, "--data-dir", data_root, "--runs-dir", runs) == 2
