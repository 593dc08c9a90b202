"""benchmarks/gpu_check.py's CPU-only parts: its dry run on the CPU, so the script is ready when a GPU is."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", Path(__file__).parents[2] / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_on_the_cpu_checks_agreement_training_and_speed(tmp_path, capsys):
    assert gpu_check().main(["--device", "cpu", "--quick", "--skip-tests", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert {r["dtype"] for r in report["agreement"]} == {"float32", "float64"}
    assert all(r["ok"] and r["outputs"] == 0 and r["gradients"] == 0 for r in report["agreement"])
    assert [r["task"] for r in report["training"]] == ["pair-regression", "classification", "pair-classification", "ner"]
    assert all(r["ok"] for r in report["training"])
    assert {r["contender"] for r in report["speed"]} == {"fast", "nn.LSTM", "dgl"}
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| SequenceTagger | float32 |" in table and "## 4. Speed" in table
    assert "gpu_check: passed" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_in_one_line_and_exits_2(tmp_path, capsys):
    assert gpu_check().main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gpu_check: cuda is not available on this machine")
    assert not (tmp_path / "gpu_check.json").exists()


@pytest.mark.slow
def test_the_gpu_marked_tests_pass_on_the_cpu(tmp_path):
    """Part 1 of the check with the gpu-marked tests run on the CPU."""
    assert gpu_check().gpu_tests(torch.device("cpu"))["ok"]
