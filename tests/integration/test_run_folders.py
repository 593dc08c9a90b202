"""Run folders: nothing a user trained is replaced or mixed with another run without being asked
(``--overwrite``, ``reproduce --rerun``), one process trains in a folder at a time (its lock), a
run's files belong together, run names stay under --runs-dir, and files get ordinary modes."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import interrupt_at
import yaml

from treelstm import cli
from treelstm.files import FolderLocked, atomic_text, locked
from treelstm.runner.checkpoint import load_checkpoint
from treelstm.runner.config import load_config

ROOT = Path(__file__).resolve().parents[2]
KEEP = "to keep it, train under a new name (--set name=...); to replace it, add --overwrite"


def run(*argv):
    return cli.main([str(a) for a in argv])


def snapshot(run_dir):
    """Every file of a run folder (but its lock) and its bytes."""
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def consistent(run_dir, config):
    """The final files of a finished run belong to one run: ``config``'s."""
    result = json.loads((run_dir / "test_metrics.json").read_text())
    _, _, _, meta = load_checkpoint(run_dir / "checkpoint")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert load_config(run_dir / "config.yaml") == config
    assert load_config(run_dir / "checkpoint" / "config.yaml") == config
    assert [r["epoch"] for r in records] == list(range(1, config.training.epochs + 1))
    assert result["epoch"] == meta["epoch"] and result["dev"] == meta["dev"]
    assert {f"dev_{k}": v for k, v in meta["dev"].items()}.items() <= records[meta["epoch"] - 1].items()
    assert not (run_dir / "resume").exists()


def test_training_again_under_the_same_name_is_refused(data_root, configs, tmp_path, capsys):
    train = ("train", configs / "sick.yaml", "--set", "training.epochs=1", "--data-dir", data_root,
             "--runs-dir", tmp_path)
    run_dir = tmp_path / "tiny-sick" / "seed-1"
    assert run(*train) == 0
    before = snapshot(run_dir)
    capsys.readouterr()
    assert run(*train) == 2
    assert capsys.readouterr().err == (
        f"treelstm: error: {run_dir} already holds a finished run of this config: {KEEP}\n")
    assert run(*train[:-2], "--set", "training.epochs=2", "--runs-dir", tmp_path) == 2
    assert capsys.readouterr().err == (
        f"treelstm: error: {run_dir} already holds a finished run of another config (training.epochs 1 there, "
        f"2 here): {KEEP}\n")
    assert snapshot(run_dir) == before
    # a new name keeps both
    assert run(*train, "--set", "name=tiny-sick-2") == 0
    assert snapshot(run_dir) == before and (tmp_path / "tiny-sick-2" / "seed-1" / "test_metrics.json").exists()
    # --overwrite replaces, leaving nothing of the earlier run
    assert run(*train[:-2], "--set", "training.epochs=2", "--runs-dir", tmp_path, "--overwrite") == 0
    consistent(run_dir, load_config(configs / "sick.yaml", ["training.epochs=2"]))
    # --seeds: refused before any seed trains
    capsys.readouterr()
    assert run(*train, "--seeds", 2, "--set", "training.seed=0") == 2
    assert capsys.readouterr().err.startswith("treelstm: error: ") and not (run_dir.parent / "seed-0").exists()


def slow_loss(monkeypatch, call, error=KeyboardInterrupt):
    """Make the SST task's loss raise ``error`` on its ``call``-th call (8 batches an epoch)."""
    from treelstm_tasks.classification import Classification

    interrupt_at(monkeypatch, Classification, call, error)


def test_an_unfinished_run_is_kept_unless_it_is_resumed_or_replaced(data_root, configs, tmp_path, capsys,
                                                                   monkeypatch):
    train = ("train", configs / "sst.yaml", "--set", "training.epochs=3", "--data-dir", data_root,
             "--runs-dir", tmp_path)
    run_dir = tmp_path / "tiny-sst" / "seed-1"
    # stopped in its first epoch: nothing to keep, training again needs no say-so
    slow_loss(monkeypatch, 3)
    assert run(*train) == 130
    monkeypatch.undo()
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "config.yaml", "coverage.txt"]
    # stopped in its second epoch: kept, for this config as for another
    slow_loss(monkeypatch, 11)
    assert run(*train) == 130
    monkeypatch.undo()
    before = snapshot(run_dir)
    capsys.readouterr()
    assert run(*train) == 2
    assert capsys.readouterr().err == (
        f"treelstm: error: {run_dir} already holds an unfinished run of this config: to keep it, train under a new "
        f"name (--set name=...); to continue it, treelstm train --resume {run_dir}; to replace it, add --overwrite\n")
    assert run(*train, "--set", "training.lr=0.04") == 2
    assert capsys.readouterr().err == (
        f"treelstm: error: {run_dir} already holds an unfinished run of another config (training.lr 0.05 there, "
        f"0.04 here): {KEEP}\n")
    assert snapshot(run_dir) == before
    assert run(*train, "--set", "training.lr=0.04", "--overwrite") == 0
    consistent(run_dir, load_config(configs / "sst.yaml", ["training.epochs=3", "training.lr=0.04"]))


def test_resuming_a_finished_run_leaves_it_whole(data_root, configs, tmp_path, capsys):
    """``--resume`` on a finished run is refused before its finished mark could go."""
    assert run("train", configs / "sick.yaml", "--set", "training.epochs=1", "--data-dir", data_root,
               "--runs-dir", tmp_path) == 0
    run_dir = tmp_path / "tiny-sick" / "seed-1"
    before = snapshot(run_dir)
    assert run("train", "--resume", run_dir, "--data-dir", data_root) == 2
    assert "nothing to resume, there is no resume/ folder" in capsys.readouterr().err
    assert snapshot(run_dir) == before


def test_reproduce_reuses_reruns_and_refuses(data_root, configs, tmp_path, monkeypatch, capsys):
    """``reproduce`` reuses (or resumes) runs of the same config; ``--rerun`` is the say-so to train them
    again in their place; a run of another config under the name needs ``--overwrite``."""
    from treelstm.runner import training

    papers = tmp_path / "papers.yaml"
    papers.write_text(yaml.safe_dump({"tiny": {"title": "Tiny", "source": "a test", "metrics": ["pearson"], "rows": [
        {"name": "Tree", "config": "sick.yaml", "headline": True, "paper": {"pearson": 0.9}}]}}))
    monkeypatch.setattr(cli, "PAPERS", papers)
    reproduce = ("reproduce", "tiny", "--seeds", 1, "--set", "training.epochs=1", "--data-dir", data_root,
                 "--runs-dir", tmp_path / "runs")
    run_dir = tmp_path / "runs" / "tiny-sick" / "seed-1"
    calls, train = [], training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: calls.append(k) or train(*a, **k))
    assert run(*reproduce) == 0 and calls[-1]["overwrite"] is False
    before = snapshot(run_dir)
    assert run(*reproduce) == 0 and len(calls) == 1  # reused
    assert snapshot(run_dir) == before
    assert run(*reproduce, "--rerun") == 0 and len(calls) == 2 and calls[-1]["overwrite"] is True
    consistent(run_dir, load_config(configs / "sick.yaml", ["training.epochs=1"]))
    capsys.readouterr()
    before = snapshot(run_dir)
    for more in ((), ("--rerun",)):
        assert run(*reproduce, "--set", "training.lr=0.04", *more) == 2
        assert capsys.readouterr().err == (
            f"treelstm: error: {run_dir} already holds a finished run of another config (training.lr 0.05 there, "
            f"0.04 here): {KEEP}\n")
    assert snapshot(run_dir) == before and len(calls) == 2
    assert run(*reproduce, "--set", "training.lr=0.04", "--overwrite") == 0 and len(calls) == 3
    consistent(run_dir, load_config(configs / "sick.yaml", ["training.epochs=1", "training.lr=0.04"]))


def test_two_configs_of_one_name_in_a_table_are_refused(data_root, configs, tmp_path, monkeypatch, capsys):
    (configs / "other.yaml").write_text((configs / "sick.yaml").read_text().replace("lr: 0.05", "lr: 0.04"))
    papers = tmp_path / "papers.yaml"
    papers.write_text(yaml.safe_dump({"tiny": {"title": "Tiny", "source": "a test", "metrics": ["pearson"], "rows": [
        {"name": "A", "config": "sick.yaml", "paper": {"pearson": 0.9}},
        {"name": "B", "config": "other.yaml", "paper": {"pearson": 0.9}}]}}))
    monkeypatch.setattr(cli, "PAPERS", papers)
    assert run("reproduce", "tiny", "--seeds", 1, "--data-dir", data_root, "--runs-dir", tmp_path / "runs") == 2
    assert capsys.readouterr().err == (
        f"treelstm: error: two different configs named 'tiny-sick' would both train in "
        f"{tmp_path / 'runs' / 'tiny-sick' / 'seed-1'}: give them different names\n")
    assert not (tmp_path / "runs").exists()


GATED_RUN = """
import sys, time
from pathlib import Path
from treelstm_tasks.classification import Classification
from treelstm import cli

gate, loss = Path(sys.argv[1]), Classification.loss

def gated(self, model, batch):  # waits for the test to open the gate: the run is still training meanwhile
    while not gate.exists():
        time.sleep(0.02)
    return loss(self, model, batch)

Classification.loss = gated
sys.exit(cli.main(sys.argv[2:]))
"""


def test_a_second_process_on_a_run_folder_stops_at_once(data_root, configs, tmp_path):
    """One ``treelstm train`` holds the run folder (waiting in its first batch); a second one on the same
    folder exits 2 at once naming the first's pid, and the first ends with the files of one run."""
    train = ["train", str(configs / "sst.yaml"), "--data-dir", str(data_root), "--runs-dir", str(tmp_path / "runs")]
    run_dir = tmp_path / "runs" / "tiny-sst" / "seed-1"
    gate = tmp_path / "gate"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-c", GATED_RUN, str(gate), *train], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = run_dir / ".lock"
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.communicate()
            time.sleep(0.02)
        for argv in (train, [*train, "--overwrite"], ["train", "--resume", str(run_dir), "--data-dir", str(data_root)]):
            started = time.perf_counter()
            second = subprocess.run([sys.executable, "-m", "treelstm.cli", *argv], env=env, capture_output=True,
                                    text=True, timeout=120)
            assert second.returncode == 2, second.stderr
            assert second.stderr == (f"treelstm: error: {run_dir}: process {first.pid} is using this run folder "
                                     f"(its lock is {lock}); wait for it to end, or stop it\n")
            assert time.perf_counter() - started < 60 and first.poll() is None
        gate.touch()
        out, err = first.communicate(timeout=300)
    finally:
        gate.touch()
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    consistent(run_dir, load_config(configs / "sst.yaml"))
    assert lock.read_text().strip() == str(first.pid)  # the file stays; its lock went with the process
    with locked(run_dir):
        pass


def test_a_lock_names_its_holder_and_goes_with_a_killed_process(tmp_path):
    folder = tmp_path / "run"
    with locked(folder, "this run folder"):
        assert (folder / ".lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(FolderLocked, match=f"process {os.getpid()} is using the folder"), locked(folder):
            pass
    with locked(folder):
        pass
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from treelstm.files import locked\n"
                               f"with locked({str(folder)!r}):\n    print('held', flush=True); time.sleep(600)"],
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(FolderLocked, match=f"process {holder.pid} is using"), locked(folder):
        pass
    holder.kill()
    holder.wait()
    holder.stdout.close()
    with locked(folder):
        pass


@pytest.fixture
def umask():
    """Set the process's umask for a test, and restore it."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_writes_give_the_mode_open_gives(tmp_path, umask, mask):
    umask(mask)
    atomic_text(tmp_path / "atomic.txt", "x")
    (tmp_path / "plain.txt").write_text("x")
    assert mode(tmp_path / "atomic.txt") == mode(tmp_path / "plain.txt") == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atomic.txt", "plain.txt"]  # no temporary file left


def test_a_run_folders_files_have_one_mode(data_root, configs, tmp_path, umask):
    umask(0o022)
    assert run("train", configs / "sick.yaml", "--set", "training.epochs=1", "--data-dir", data_root,
               "--runs-dir", tmp_path) == 0
    run_dir = tmp_path / "tiny-sick" / "seed-1"
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"config.yaml", "test_metrics.json", "metrics.jsonl", "model.safetensors"} <= {p.name for p in files}
    assert {p.relative_to(tmp_path): mode(p) for p in files} == {p.relative_to(tmp_path): 0o644 for p in files}
    assert mode(tmp_path / "tiny-sick" / "summary.json") == 0o644


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "..", "a/b", "x\\y", '"a\\0b"', '"a\\nb"'])
def test_a_run_name_stays_under_the_runs_folder(data_root, configs, tmp_path, capsys, name):
    runs = tmp_path / "deep" / "runs"
    assert run("train", configs / "sick.yaml", "--set", f"name={name}", "--data-dir", data_root,
               "--runs-dir", runs) == 2
    err = capsys.readouterr().err
    shown = repr(yaml.safe_load(name))
    assert err == f"treelstm: error: {configs / 'sick.yaml'}: name: a run name is one folder name under --runs-dir, " \
                  f"not {shown}\n"
    assert not runs.exists() and not (tmp_path / "deep" / "x").exists()


def test_under_torchrun_every_process_stops_on_a_locked_run_folder(data_root, configs, tmp_path):
    """Rank 0 takes the lock and tells the others: both processes stop with the one line, none waits."""
    run_dir = tmp_path / "runs" / "tiny-sick" / "seed-1"
    argv = ["train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path / "runs"]
    with locked(run_dir):
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                               "-m", "treelstm.cli", *map(str, argv)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    line = (f"treelstm: error: {run_dir}: process {os.getpid()} is using this run folder (its lock is "
            f"{run_dir / '.lock'}); wait for it to end, or stop it")
    assert done.stderr.count(line) == 2, done.stderr[-3000:]
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]
