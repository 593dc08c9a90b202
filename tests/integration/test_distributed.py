"""Data-parallel training: `torchrun --nproc_per_node 2` (gloo, CPU) against one process with the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from treelstm import cli
from treelstm.runner import training
from treelstm.runner.config import ConfigError, load_config
from treelstm.runner.distributed import Ranks

ROOT = Path(__file__).resolve().parents[2]

# Batches of 3 over 40 training pairs: shares of 2 and 1 examples, and a last batch of one example
# (the second process runs a stand-in with weight 0). The tuned word table gets plain SGD
# (embeddings.lr), which a sum of the two processes' gradients instead of their mean would double.
SICK_DDP = """
name: ddp-sick
task: pair-regression
data: {format: sick, tree: dependency}
embeddings: {vectors: tiny.txt, freeze: false, lr: 0.1}
model: {cell: childsum, hidden_size: 8, output_gate: false, head_hidden: 5}
training: {epochs: 2, batch_size: 3, lr: 0.05, seed: 1}
"""


def test_shares_partition_each_batch_and_their_weights_average_to_one():
    batch = list(range(7))
    shares = [Ranks(r, 3).share(batch) for r in range(3)]
    assert sorted(x for mine, _ in shares for x in mine) == batch
    assert [mine for mine, _ in shares] == [[0, 3, 6], [1, 4], [2, 5]]
    assert sum(weight for _, weight in shares) / 3 == pytest.approx(1)  # DDP's average of w_r L_r is the mean loss
    assert Ranks(2, 3).share([10, 11]) == ([10], 0.0)  # nothing left: a stand-in that adds nothing
    assert Ranks().share(batch) == (batch, 1.0)


def torchrun(*argv, processes=2):
    """``torchrun --standalone`` (a free port) running the treelstm command of this checkout."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               "-m", "treelstm.cli", *map(str, argv)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def assert_same_run(one: Path, two: Path):
    """Same epochs, losses, dev and test metrics, best epoch and weights, within float tolerance."""
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    logs = [[json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()] for run in (one, two)]
    assert [r["epoch"] for r in logs[1]] == [r["epoch"] for r in logs[0]]
    for a, b in zip(*logs):
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-5)
        assert {k: v for k, v in b.items() if k.startswith("dev_")} == pytest.approx(
            {k: v for k, v in a.items() if k.startswith("dev_")}, abs=1e-4)
    results = [json.loads((run / "test_metrics.json").read_text()) for run in (one, two)]
    assert results[1]["epoch"] == results[0]["epoch"]
    assert results[1]["test"] == pytest.approx(results[0]["test"], abs=1e-5)
    weights = [load_file(run / "checkpoint" / "model.safetensors") for run in (one, two)]
    assert weights[1].keys() == weights[0].keys()
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor, rtol=0, atol=1e-5, msg=name)


def train_both(config: Path, data_root: Path, runs: Path, *sets: str) -> subprocess.CompletedProcess:
    """``config`` trained in this process (``runs/one``), then by torchrun's two (``runs/two``)."""
    argv = ["train", config, *[x for s in sets for x in ("--set", s)], "--data-dir", data_root, "--runs-dir"]
    assert cli.main([str(a) for a in [*argv, runs / "one"]]) == 0
    return torchrun(*argv, runs / "two")


def test_two_processes_train_the_run_one_process_trains(data_root, tmp_path, capsys):
    (tmp_path / "sick.yaml").write_text(SICK_DDP, encoding="utf-8")
    done = train_both(tmp_path / "sick.yaml", data_root, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("ddp-sick: test pearson") == 1  # rank 0 reports, the other stays quiet
    assert_same_run(tmp_path / "one" / "ddp-sick" / "seed-1", tmp_path / "two" / "ddp-sick" / "seed-1")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sst", "ner"])
def test_two_processes_train_sentiment_and_ner_runs(data_root, configs, tmp_path, name):
    """N-ary cells over node labels, a tuned table (SST); a CRF, characters, Adam and clipping (NER)."""
    done = train_both(configs / f"{name}.yaml", data_root, tmp_path, "training.batch_size=3", "model.dropout=0")
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_run(tmp_path / "one" / f"tiny-{name}" / "seed-1", tmp_path / "two" / f"tiny-{name}" / "seed-1")


def test_mistakes_under_torchrun_are_one_line_errors(data_root, configs, tmp_path, monkeypatch, capsys):
    """Said before any process group starts (torchrun's environment faked: no group is needed)."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cli.main(["train", str(configs / "sick.yaml"), "--jobs", "2", "--data-dir", str(data_root)]) == 2
    assert capsys.readouterr().err == ("treelstm: error: --jobs 2: under torchrun the 2 processes train each run "
                                       "together; leave --jobs at 1\n")
    with pytest.raises(ConfigError, match="training.batch_size 1 is smaller than the 2 processes"):
        training.train(load_config(configs / "sick.yaml", ["training.batch_size=1"]), data_root, tmp_path)


@pytest.mark.slow
def test_torchrun_resumes_a_run_to_the_uninterrupted_numbers(data_root, tmp_path, monkeypatch):
    """A one-process run stopped in its second epoch, resumed by two processes."""
    from treelstm_tasks.pair_regression import PairRegression as Relatedness

    (tmp_path / "sick.yaml").write_text(SICK_DDP.replace("epochs: 2", "epochs: 3"), encoding="utf-8")
    argv = ["train", str(tmp_path / "sick.yaml"), "--data-dir", str(data_root), "--runs-dir"]
    assert cli.main([*argv, str(tmp_path / "one")]) == 0
    calls, loss = [], Relatedness.loss

    def stopping(self, model, batch):
        calls.append(1)
        if len(calls) == 20:  # 14 batches an epoch
            raise KeyboardInterrupt
        return loss(self, model, batch)

    monkeypatch.setattr(Relatedness, "loss", stopping)
    assert cli.main([*argv, str(tmp_path / "two")]) == 130
    run = tmp_path / "two" / "ddp-sick" / "seed-1"
    done = torchrun("train", "--resume", run, "--data-dir", data_root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_run(tmp_path / "one" / "ddp-sick" / "seed-1", run)
