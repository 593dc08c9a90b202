"""Each benchmark's --smoke run, so the scripts cannot rot. Numbers are never asserted."""

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


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
        (name, what) for name in ("fused", "cells", "nn.LSTM") for what in ("train, batch 32", "decode, batch 256")]
    assert "| cells | decode, batch 256 |" in capsys.readouterr().out


def test_distributed_smoke(capsys):
    rows = load("distributed").main(["--smoke"])
    assert [label for label, _ in rows] == ["1 process, batch 10", "1 process, batch 5", "2 processes (DDP), batch 10"]
    assert "| 2 processes (DDP), batch 10 |" in capsys.readouterr().out
