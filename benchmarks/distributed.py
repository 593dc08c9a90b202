"""Training throughput of one process against torchrun's N processes (DDP, gloo), same global batch.

    python benchmarks/distributed.py             # configs/tai2015-sick/dependency-treelstm.yaml, $TREELSTM_DATA
    python benchmarks/distributed.py --smoke     # 120 synthetic SICK-like pairs, a tiny model, for the tests

Each of --rounds rounds trains the config for --epochs epochs with ``treelstm train`` three times:
in this process; in this process with batches of one process's share (batch_size / N, rounded up);
under ``torchrun --standalone --nproc_per_node N`` (one thread per process every time:
``training.threads`` is 1 and torchrun sets OMP_NUM_THREADS=1). Alternating rounds keeps a change of
the machine's load from favouring one side. The runs' ``metrics.jsonl`` give the training seconds of
every epoch (forward, backward, all-reduce and optimizer steps; dev evaluation left out); the table
shows their median over all rounds, the training examples per second and the ratio to one process,
the whole epoch's median seconds (with rank 0's dev evaluation) and the last round's test metrics.
The share's run bounds what N processes can reach: N times its rate, were talking and waiting free.
The machine's load average before and after is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from treelstm import cli
from treelstm.runner.config import load_config
from treelstm.runner.task import get_task
from treelstm.runner.training import load_splits

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tai2015-sick" / "dependency-treelstm.yaml"
SMOKE_CONFIG = """
name: smoke-sick
task: pair-regression
data: {format: sick, tree: dependency}
embeddings: {vectors: random, dim: 16, freeze: true}
model: {cell: childsum, hidden_size: 16, output_gate: false, head_hidden: 8}
training: {epochs: 2, batch_size: 10, optimizer: adagrad, lr: 0.05, seed: 1}
"""


def write_smoke_data(root: Path, sizes=(120, 20, 20)) -> None:
    """SICK's layout with random words, chain-shaped dependency trees and left-branching constituency trees."""
    rng = np.random.default_rng(0)
    words = ["a", "dog", "cat", "man", "runs", "sleeps", "the", "big", "small", "park"]
    for split, size in zip(("train", "dev", "test"), sizes):
        folder = root / "sick" / "treelstm" / split
        folder.mkdir(parents=True)
        files: dict[str, list[str]] = {"id.txt": [], "sim.txt": []}
        for k in range(size):
            files["id.txt"].append(str(k + 1))
            files["sim.txt"].append(f"{rng.uniform(1, 5):.2f}")
            for side in "ab":
                n = int(rng.integers(1, 10))
                files.setdefault(f"{side}.toks", []).append(" ".join(rng.choice(words, n)))
                files.setdefault(f"{side}.parents", []).append(" ".join(map(str, [*range(2, n + 1), 0])))
                leaves = [n + 1] + [n + j for j in range(1, n)] if n > 1 else []
                inner = [*range(n + 2, 2 * n), 0]  # node n + j joins node n + j - 1 and leaf j + 1
                files.setdefault(f"{side}.cparents", []).append(" ".join(map(str, leaves + inner)))
        for name, lines in files.items():
            (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def train_round(config: Path, data_root: Path, out: Path, epochs: int, processes: int, share: int) -> None:
    """One round: the config trained in this process (``out/one``), in this process with batches of
    ``share`` examples (``out/share``), and by torchrun's ``processes`` (``out/ddp``)."""
    argv = ["train", str(config), "--set", f"training.epochs={epochs}", "--set", "training.threads=1",
            "--set", "training.patience=null", "--data-dir", str(data_root)]
    for name, sets in (("one", []), ("share", ["--set", f"training.batch_size={share}"])):
        if cli.main([*argv, *sets, "--runs-dir", str(out / name)]) != 0:
            raise SystemExit(f"the one-process run ({name}) failed")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                           str(processes), "-m", "treelstm.cli", *argv, "--runs-dir", str(out / "ddp")],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the torchrun run failed:\n{done.stderr[-3000:]}")


def measured(run_dirs: list[Path], examples: int) -> dict:
    """Finished runs' median training seconds per epoch, examples/s, epoch seconds; the last run's test metrics."""
    records = [json.loads(line) for run_dir in run_dirs
               for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    train = statistics.median(r["train_seconds"] for r in records)
    return {"train_seconds": train, "rate": examples / train, "epoch_seconds": statistics.median(
        r["seconds"] for r in records), "test": json.loads((run_dirs[-1] / "test_metrics.json").read_text())["test"]}


def main(argv=None) -> list[tuple[str, dict]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three runs, alternating")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.smoke:
            write_smoke_data(tmp / "data")
            (tmp / "smoke.yaml").write_text(SMOKE_CONFIG, encoding="utf-8")
            config_path, data_root, epochs, rounds = tmp / "smoke.yaml", tmp / "data", 2, 1
        else:
            data_root = Path(os.environ.get("TREELSTM_DATA", "../shared/data"))
            config_path, epochs, rounds = args.config, args.epochs, args.rounds
        config = load_config(config_path)
        batch, n = config.training.batch_size, args.processes
        share = -(-batch // n)
        for k in range(rounds):
            train_round(config_path, data_root, tmp / f"round-{k}", epochs, n, share)
        examples = len(load_splits(get_task(config), data_root)["train"])
        rows = [(label, measured([tmp / f"round-{k}" / name / config.name / f"seed-{config.training.seed}"
                                  for k in range(rounds)], examples))
                for label, name in ((f"1 process, batch {batch}", "one"), (f"1 process, batch {share}", "share"),
                                    (f"{n} processes (DDP), batch {batch}", "ddp"))]
    load_after = os.getloadavg()
    print(f"{config.name}: {examples:,} training examples, {rounds} x {epochs} epochs, one thread per process; "
          f"load average (1, 5, 15 min) before {_load(load_before)}, after {_load(load_after)}\n")
    print("| run | train s/epoch (median) | examples/s | x 1 process | epoch s with dev | test |")
    print("|---|---:|---:|---:|---:|---|")
    for label, row in rows:
        test = ", ".join(f"{k} {v:.4f}" for k, v in list(row["test"].items())[:2])
        print(f"| {label} | {row['train_seconds']:.2f} | {row['rate']:,.0f} | {row['rate'] / rows[0][1]['rate']:.2f} "
              f"| {row['epoch_seconds']:.2f} | {test} |")
    print(f"\n{n} processes doing a share of {share} each with no cost of talking or waiting: {n} x "
          f"{rows[1][1]['rate']:,.0f} = {n * rows[1][1]['rate']:,.0f} examples/s")
    return rows


def _load(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
