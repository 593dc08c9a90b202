"""The treelstm command end to end on tiny synthetic data: train, evaluate, plot, reproduce, errors."""

import json

import pytest
import torch
import yaml

from treelstm import cli
from treelstm.runner.checkpoint import load_checkpoint


def run(*argv):
    return cli.main([str(a) for a in argv])


def test_train_writes_a_complete_run_folder(data_root, configs, tmp_path, capsys):
    assert run("train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path / "runs") == 0
    folder = tmp_path / "runs" / "tiny-sick" / "seed-1"
    assert yaml.safe_load((folder / "config.yaml").read_text())["model"]["hidden_size"] == 8
    epochs = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [1, 2] and {"dev_pearson", "dev_mse", "train_loss"} <= epochs[0].keys()
    assert sorted(p.name for p in (folder / "checkpoint").iterdir()) == [
        "README.md", "config.yaml", "meta.json", "model.safetensors", "vocab.txt"]
    test = json.loads((folder / "test_metrics.json").read_text())
    assert set(test["test"]) == {"pearson", "spearman", "mse"}
    assert "tiny-sick: test pearson" in capsys.readouterr().out


def test_same_seed_same_metrics_and_evaluate_reproduces_test(data_root, configs, tmp_path, capsys):
    for out in ("a", "b"):
        run("train", configs / "sst.yaml", "--data-dir", data_root, "--runs-dir", tmp_path / out)
    first, second = (json.loads((tmp_path / out / "tiny-sst" / "seed-1" / "test_metrics.json").read_text())
                     for out in ("a", "b"))
    assert first["test"] == second["test"]
    a_log, b_log = ((tmp_path / out / "tiny-sst" / "seed-1" / "metrics.jsonl").read_text() for out in ("a", "b"))
    assert [json.loads(x)["train_loss"] for x in a_log.splitlines()] == [json.loads(x)["train_loss"] for x in b_log.splitlines()]
    capsys.readouterr()
    assert run("evaluate", tmp_path / "a" / "tiny-sst" / "seed-1" / "checkpoint", "--data-dir", data_root) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(first["test"]["accuracy"])


def test_seeds_report_mean_and_std(data_root, configs, tmp_path, capsys):
    assert run("train", configs / "sick.yaml", "--seeds", 2, "--jobs", 2, "--set", "training.epochs=1",
               "--data-dir", data_root, "--runs-dir", tmp_path) == 0
    summary = json.loads((tmp_path / "tiny-sick" / "summary.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [1, 2]
    mean, std = summary["mean_std"]["pearson"]
    values = [r["test"]["pearson"] for r in summary["runs"]]
    assert mean == pytest.approx(sum(values) / 2) and std > 0
    assert "over 2 seed(s)" in capsys.readouterr().out


def test_checkpoint_loads_without_the_training_code_path(data_root, configs, tmp_path):
    run("train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path)
    task, model, vocab, meta = load_checkpoint(tmp_path / "tiny-sick" / "seed-1" / "checkpoint")
    assert meta["task"] == "pair-regression" and meta["epoch"] in (1, 2) and vocab.tokens[:2] == ["<pad>", "<unk>"]
    assert isinstance(model, torch.nn.Module) and not model.encoder.embedding.weight.requires_grad


def test_plot_draws_the_curves(data_root, configs, tmp_path, capsys):
    run("train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path)
    capsys.readouterr()
    assert run("plot", tmp_path / "tiny-sick") == 0
    png = tmp_path / "tiny-sick" / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in capsys.readouterr().out


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.tree=constituency", "model.cell=nary"],
        ["data.tree=chain", "model.cell=lstm", "model.bidirectional=true", "model.num_layers=2", "model.output_gate=true"],
        ["data.tree=chain", "model.cell=lstm", "model.num_layers=2", "model.all_layers=true", "model.output_gate=true"],
        ["model.cell=childsum-gru", "model.output_gate=true"],
    ],
)
def test_relatedness_structures(data_root, configs, tmp_path, overrides):
    sets = [x for o in overrides for x in ("--set", o)]
    assert run("train", configs / "sick.yaml", *sets, "--data-dir", data_root, "--runs-dir", tmp_path) == 0


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.subtask=binary"],
        ["data.tree=chain", "model.cell=lstm"],
        ["data.tree=dependency", "model.cell=childsum", "data.subtask=binary"],
        ["embeddings.vectors=random", "embeddings.dim=4"],
    ],
)
def test_sentiment_variants(data_root, configs, tmp_path, overrides, monkeypatch):
    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    sets = [x for o in overrides for x in ("--set", o)]
    assert run("train", configs / "sst.yaml", *sets, "--data-dir", data_root, "--runs-dir", tmp_path) == 0
    result = json.loads((tmp_path / "tiny-sst" / "seed-1" / "test_metrics.json").read_text())
    assert 0 <= result["test"]["accuracy"] <= 1


def test_reproduce_prints_ours_beside_the_paper(data_root, configs, tmp_path, monkeypatch, capsys):
    papers = tmp_path / "papers.yaml"
    papers.write_text(yaml.safe_dump({"tiny": {
        "title": "Tiny table", "source": "a test", "metrics": ["pearson"],
        "rows": [{"name": "Tree", "config": "sick.yaml", "headline": True, "paper": {"pearson": [0.9, 0.01]}},
                 {"name": "Chain", "config": "sick.yaml", "paper": {"pearson": 0.85}},
                 {"name": "Published only", "paper": {"pearson": 0.8}}]}}))
    monkeypatch.setattr(cli, "PAPERS", papers)
    assert run("reproduce", "tiny", "--seeds", 2, "--set", "training.epochs=1", "--data-dir", data_root,
               "--runs-dir", tmp_path / "runs") == 0
    out = capsys.readouterr().out
    assert "| Tree | " in out and "| 0.9000 (0.0100) |" in out and "| Chain | " in out and "| 0.8500 |" in out
    assert "| Published only | — | 0.8000 | — | — |" in out
    assert (tmp_path / "runs" / "reproduce" / "tiny.md").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("finished runs must be reused")

    monkeypatch.setattr("treelstm.runner.training.train", no_training)
    assert run("reproduce", "tiny", "--seeds", 2, "--jobs", 1, "--set", "training.epochs=1", "--data-dir", data_root,
               "--runs-dir", tmp_path / "runs") == 0
    table = out[out.index("### Tiny table"):]
    assert capsys.readouterr().out.endswith(table)
    # --finished-only trains nothing: 2 of 3 seeds finished, and a capped row
    rows = yaml.safe_load(papers.read_text())
    rows["tiny"]["rows"][1]["seeds"] = 1
    papers.write_text(yaml.safe_dump(rows))
    assert run("reproduce", "tiny", "--seeds", 3, "--finished-only", "--set", "training.epochs=1",
               "--data-dir", data_root, "--runs-dir", tmp_path / "runs") == 0
    out = capsys.readouterr().out
    assert "| Tree (2 seeds) | 0." in out and "| Chain (1 seed) | 0." in out and "over 3 seed(s) unless" in out
    monkeypatch.undo()
    monkeypatch.setattr(cli, "PAPERS", papers)
    assert run("reproduce", "tiny", "--quick", "--set", "training.epochs=1", "--data-dir", data_root,
               "--runs-dir", tmp_path / "runs") == 0
    assert "| Chain |" not in capsys.readouterr().out


def test_user_errors_are_one_line_and_exit_2(data_root, configs, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TREELSTM_DATA", raising=False)
    assert run("train", configs / "sick.yaml", "--runs-dir", tmp_path) == 2
    assert capsys.readouterr().err.strip() == ("treelstm: error: data.format sick reads the benchmark from the data "
                                               "root: pass --data-dir or set TREELSTM_DATA")
    (data_root / "sick" / "treelstm" / "dev" / "b.parents").unlink()
    assert run("train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("treelstm: error: SICK dev: expected the file ") and err.endswith("dev/b.parents")
    assert run("train", configs / "sick.yaml", "--set", "model.hiden=3", "--data-dir", data_root) == 2
    assert "did you mean 'hidden_size'" in capsys.readouterr().err
    assert run("reproduce", "nope", "--data-dir", data_root) == 2
    assert "unknown table 'nope'" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        run("--debug", "train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path)


@pytest.mark.parametrize("overrides", [[], ["data.tree=chain", "model.cell=lstm", "model.bidirectional=true"]])
def test_paraphrase_task(data_root, tmp_path, overrides, monkeypatch):
    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "msrp.yaml"
    config.write_text(
        "name: tiny-msrp\ntask: pair-classification\ndata: {format: msrp, tree: dependency}\n"
        "embeddings: {vectors: tiny.txt, freeze: false, lr: 0.1}\n"
        "model: {cell: childsum, hidden_size: 8, head_hidden: 5}\ntraining: {epochs: 2, batch_size: 5}\n"
    )
    sets = [x for o in overrides for x in ("--set", o)]
    assert run("train", config, *sets, "--data-dir", data_root, "--runs-dir", tmp_path) == 0
    result = json.loads((tmp_path / "tiny-msrp" / "seed-1" / "test_metrics.json").read_text())
    assert set(result["test"]) == {"accuracy", "macro_f1", "f1_not_paraphrase", "f1_paraphrase"} and 0 <= result["test"]["accuracy"] <= 1


def test_classification_metrics():
    from treelstm.runner.metrics import classification_metrics

    scores = classification_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1], ["no", "yes"])
    assert scores["accuracy"] == pytest.approx(0.6)
    assert scores["f1_yes"] == pytest.approx(2 / 3)  # precision 2/3, recall 2/3
    assert scores["f1_no"] == pytest.approx(0.5) and scores["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2)
    assert classification_metrics([0, 0], [1, 1], ["no", "yes"])["f1_yes"] == 0.0
    assert list(classification_metrics([0, 2], [2, 2], "abc", classes=[0, 2])) == ["accuracy", "macro_f1", "f1_a", "f1_c"]


MSRP_CONFIG = (
    "name: tiny-msrp\ntask: pair-classification\ndata: {format: msrp, tree: dependency}\n"
    "embeddings: {vectors: tiny.txt, freeze: false, lr: 0.1}\n"
    "model: {cell: childsum, hidden_size: 8, head_hidden: 5}\ntraining: {epochs: 1, batch_size: 5}\n"
)


@pytest.fixture
def msrp_checkpoint(data_root, tmp_path, monkeypatch, capsys):
    """A paraphrase checkpoint trained for one epoch on the tiny MSRP."""
    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    (tmp_path / "msrp.yaml").write_text(MSRP_CONFIG)
    assert run("train", tmp_path / "msrp.yaml", "--data-dir", data_root, "--runs-dir", tmp_path) == 0
    capsys.readouterr()
    return tmp_path / "tiny-msrp" / "seed-1" / "checkpoint"


def test_predict_pairs_files_errors_and_the_python_api(msrp_checkpoint, tmp_path, capsys):
    checkpoint = msrp_checkpoint
    assert run("predict", checkpoint, "--pair", "The dog runs.", "A dog is running.") == 0
    label, probability = capsys.readouterr().out.strip().split("\t")
    assert 0.5 <= float(probability) <= 1 and label in ("paraphrase", "not_paraphrase")

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("The cat sleeps.\tA cat is sleeping.\nZorblax quuxes\tThe man runs.\n")
    assert run("predict", checkpoint, "--input", pairs, "--output", tmp_path / "out.tsv") == 0
    assert len((tmp_path / "out.tsv").read_text().splitlines()) == 2
    assert f"treelstm: warning: {pairs}:2: every word of text 1 is unknown" in capsys.readouterr().err

    for text, message in [
        ("The cat sleeps.\n", f"{pairs}:1: expected two tab-separated texts, found 1 field(s)"),
        ("The cat sleeps.\t  \n", f"{pairs}:1: text 2 is empty"),
        ("", f"{pairs}: no text pairs in the file"),
    ]:
        pairs.write_text(text)
        assert run("predict", checkpoint, "--input", pairs) == 2
        assert capsys.readouterr().err.strip() == f"treelstm: error: {message}"
    pairs.write_bytes(b"Caf\xe9 au lait.\tA coffee.\n")
    assert run("predict", checkpoint, "--input", pairs) == 2
    assert capsys.readouterr().err.strip() == (f"treelstm: error: {pairs}:1:4: byte 0xe9 is not valid utf-8; if the file "
                                               f"is in another encoding, set data.encoding (e.g. encoding: latin-1)")
    assert run("predict", checkpoint, "--pair", "", "A dog.") == 2
    assert capsys.readouterr().err.strip() == "treelstm: error: --pair: text 1 is empty"
    assert run("predict", checkpoint) == 2
    assert "give either --pair" in capsys.readouterr().err

    from treelstm.runner.predict import load

    (result,) = load(checkpoint)([("The dog runs.", "A dog is running.")])
    assert result["probability"] == pytest.approx(float(probability), abs=1e-4) and result["warnings"] == []
    assert result["label"] == label and sum(result["probabilities"].values()) == pytest.approx(1)


def test_evaluate_on_paws_and_unknown_splits(msrp_checkpoint, data_root, capsys):
    checkpoint = msrp_checkpoint
    assert run("evaluate", checkpoint, "--split", "paws-test", "--data-dir", data_root) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"split", "epoch", "accuracy", "macro_f1", "f1_not_paraphrase",
                                                        "f1_paraphrase", "examples_per_second"}
    assert run("evaluate", checkpoint, "--split", "paws-train", "--data-dir", data_root) == 2
    assert ("there is no 'paws-train' split (there are: train, dev, test, paws-dev, paws-test)"
            in capsys.readouterr().err)


def test_pair_regression_predicts_a_score_in_the_training_range(data_root, configs, tmp_path, capsys):
    run("train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path)
    capsys.readouterr()
    assert run("predict", tmp_path / "tiny-sick" / "seed-1" / "checkpoint", "--pair", "A dog runs.", "A cat sleeps.") == 0
    score = float(capsys.readouterr().out)
    lo, hi = json.loads((tmp_path / "tiny-sick" / "seed-1" / "checkpoint" / "meta.json").read_text())["task_state"]["score_range"]
    assert lo <= score <= hi and 1 <= lo < hi <= 5


def test_debug_after_the_sub_command_and_bugs_keep_their_traceback(data_root, configs, tmp_path, monkeypatch, capsys):
    from treelstm.errors import UserError

    monkeypatch.delenv("TREELSTM_DATA", raising=False)
    with pytest.raises(UserError, match="reads the benchmark from the data root"):
        run("train", configs / "sick.yaml", "--runs-dir", tmp_path, "--debug")
    assert run("train", configs / "sick.yaml", "--runs-dir", tmp_path) == 2  # without --debug: one line

    def bug(*args, **kwargs):
        raise ValueError("a bug inside the library")

    monkeypatch.setattr("treelstm.runner.training.train", bug)
    with pytest.raises(ValueError, match="a bug inside the library"):  # not a user error: never hidden
        run("train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path)
