"""Each benchmark's --smoke run, so the scripts cannot rot. Numbers are never asserted."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_embedding_loading_smoke(capsys):
    rows = load("embedding_loading").main(["--smoke", "--repeat", "1"])
    assert [what for what, _ in rows] == ["GloVe text, all 2,000 rows", "GloVe text, 100 wanted words"]
    assert "| GloVe text, all 2,000 rows |" in capsys.readouterr().out


def test_ner_speed_smoke(capsys):
    rows = load("ner_speed").main(["--smoke", "--repeat", "1"])
    assert [(name, what) for name, what, _ in rows] == [
        (name, what) for name in ("fused", "cells", "nn.LSTM tagger", "nn.LSTM")
        for what in ("train, batch 32", "decode, batch 256")]
    assert "| nn.LSTM tagger | decode, batch 256 |" in capsys.readouterr().out


def test_tree_speed_smoke(capsys):
    rows = load("tree_speed").main(["--smoke", "--repeat", "1", "--datasets", "sick", "--trees", "20"])
    assert [(r["contender"], r["what"]) for r in rows] == [
        (name, what) for what in ("train, batch 25", "train, batch 256", "inference, batch 256")
        for name in ("fast", "dgl", "recursion", "nn.LSTM")]
    assert all(r["trees_per_s"] > 0 for r in rows) and [r["ratio"] for r in rows[::4]] == [1.0] * 3
    assert "peak_mib" in rows[4] and "| SICK (childsum) | nn.LSTM | inference, batch 256 |" in capsys.readouterr().out


def test_tree_speed_compare_smoke(capsys):
    """--compare in its quick mode: every ratio of issue 17 printed; DyNet's row says it was skipped without dynet."""
    rows = load("tree_speed").main(["--smoke", "--compare", "--rounds", "1"])
    assert [r["what"].split(",")[0] for r in rows] == ["SST epoch (40 trees)", "SST epoch", "SST", "SST", "SICK", "SICK",
                                                      *["NER tagger"] * 4]
    out = capsys.readouterr().out
    assert "| SICK, inference, batch 256 | fast / nn.LSTM |" in out and "tagger / nn.LSTM tagger" in out
    dynet = importlib.util.find_spec("dynet") is not None
    assert (rows[0]["ratio"] > 0) if dynet else "dynet not importable: skipped" in rows[0]["detail"]
    assert all(r["ratio"] > 0 for r in rows[1:])


def test_dynet_contender_smoke():
    """The optional DyNet contender (PyPI dyNET38): a training and an inference step on tiny trees."""
    pytest.importorskip("dynet")
    speed, models = load("tree_speed"), load("tree_models")
    data = speed.synthetic("sst", count=6)
    vocab = speed.Vocabulary.build([t for t in tree.tokens if t is not None] for tree, _ in data)
    model = models.make("dynet", vocab, "nary", 16, 8)
    batch = model.collate(*zip(*data))
    assert models.steps(model, True)(batch) > 0
    models.steps(model, False)(batch)


def test_tree_scaling_smoke(tmp_path, capsys):
    module = load("tree_scaling")
    assert module.chain_like(5).parents.tolist() == [5, 5, 6, 7, 8, 6, 7, 8, -1]
    assert module.balanced(4).parents.tolist() == [4, 4, 5, 5, 6, 6, -1]
    result = module.main(["--smoke", "--repeat", "1", "--output", str(tmp_path / "s.png")])
    assert set(result["batch"]) == {"fast", "dgl", "nn.LSTM"} and len(result["depth"]) == 6
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| fast, chain-like (ms/step) |" in capsys.readouterr().out


def test_distributed_smoke(capsys):
    rows = load("distributed").main(["--smoke"])
    assert [label for label, _ in rows] == ["1 process, batch 10", "1 process, batch 5", "2 processes (DDP), batch 10"]
    assert "| 2 processes (DDP), batch 10 |" in capsys.readouterr().out
