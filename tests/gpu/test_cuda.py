"""The ``gpu``-marked tests: what only a GPU can show, run by ``benchmarks/gpu_check.py``.

They run on ``$TREELSTM_GPU_TEST_DEVICE`` (default ``cuda``) and are skipped when it is missing, so
on a CPU-only machine they are skipped in the default run; ``gpu_check.py --device cpu`` runs them on
the CPU, which keeps their code from rotting where no GPU is."""

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch

from treelstm import TreeLSTM, ChildSumTreeLSTMCell, _dgl, cli, trees

DEVICE = torch.device(os.environ.get("TREELSTM_GPU_TEST_DEVICE", "cuda"))
present = DEVICE.type == "cpu" or (DEVICE.type == "cuda" and torch.cuda.is_available()
                                   and (DEVICE.index or 0) < torch.cuda.device_count())
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not present, reason=f"{DEVICE} is not available")]


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", Path(__file__).parents[2] / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*argv):
    return cli.main([str(a) for a in argv])


def test_every_model_agrees_with_the_cpu_in_float32_and_float64():
    rows = gpu_check().agreement(DEVICE)
    assert [r for r in rows if not r["ok"]] == []


@pytest.mark.parametrize("extra", [[], ["--set", "training.precision=bf16"], ["--set", "training.precision=fp16"],
                                   ["--set", "training.workers=1"]])
def test_a_run_trains_on_the_device_and_its_checkpoint_evaluates_on_the_cpu(extra, data_root, configs, tmp_path, capsys):
    """The whole runner on the device (fp32, mixed precision, pinned batches from a worker); the
    checkpoint is device-free: evaluated on the CPU it gives the device's test metrics."""
    assert run("train", configs / "sick.yaml", "--device", DEVICE, "--data-dir", data_root,
               "--runs-dir", tmp_path, *extra) == 0
    folder = tmp_path / "tiny-sick" / "seed-1"
    assert json.loads((folder / "checkpoint" / "meta.json").read_text())["device"] == str(DEVICE)
    test = json.loads((folder / "test_metrics.json").read_text())["test"]
    capsys.readouterr()
    assert run("evaluate", folder / "checkpoint", "--split", "test", "--device", "cpu", "--data-dir", data_root) == 0
    on_cpu = json.loads(capsys.readouterr().out)
    assert all(abs(on_cpu[k] - v) < (1e-4 if not extra else 5e-2) for k, v in test.items())


def test_dgl_mode_runs_where_the_installed_dgl_can_hold_graphs(mixed_trees):
    graph = trees.batch(mixed_trees)
    torch.manual_seed(0)
    x = torch.randn(graph.num_nodes(), 4, device=DEVICE)
    encoder = TreeLSTM(ChildSumTreeLSTMCell(4, 3)).to(DEVICE)
    if not _dgl.runs_on(DEVICE):
        with pytest.raises(ValueError, match="needs a DGL built for it"):
            TreeLSTM(encoder.cell, mode="dgl")(graph, x)
        return
    fast = encoder(graph, x)
    dgl_mode = TreeLSTM(encoder.cell, mode="dgl")(graph, x)
    torch.testing.assert_close(dgl_mode.h, fast.h, atol=1e-5, rtol=1e-5)
