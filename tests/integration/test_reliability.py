"""Reliability of training runs: a diverging loss stops the run, checkpoints never run code,
saves survive being killed, and a killed run resumes to the same numbers."""

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import interrupt_at
import torch

from treelstm import __version__, cli
from treelstm.runner import seeds
from treelstm.runner.checkpoint import VersionWarning, load_checkpoint, save_checkpoint


def run(*argv):
    return cli.main([str(a) for a in argv])


@pytest.mark.parametrize("bad, shown", [(float("nan"), "nan"), (float("inf"), "inf")])
def test_a_nan_or_inf_loss_stops_the_run_naming_the_step(data_root, configs, tmp_path, capsys, monkeypatch, bad, shown):
    from treelstm_tasks.classification import Classification as Sentiment

    calls, loss = [], Sentiment.loss

    def diverging(self, model, batch):  # the 11th batch: epoch 2 (8 batches an epoch), step 3
        calls.append(1)
        return loss(self, model, batch) * (bad if len(calls) == 11 else 1.0)

    monkeypatch.setattr(Sentiment, "loss", diverging)
    assert run("train", configs / "sst.yaml", "--set", "training.epochs=3", "--data-dir", data_root,
               "--runs-dir", tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()  # notes (the device) may come first, once a process
    assert err[-1] == f"treelstm: error: epoch 2, step 3: the loss is {shown}; lower training.lr or set training.clip"
    assert all(line.startswith("treelstm: ") and "error" not in line for line in err[:-1])
    assert not (tmp_path / "tiny-sst" / "seed-1" / "test_metrics.json").exists()
    calls.clear()
    assert run("train", configs / "sst.yaml", "--set", "training.clip=1", "--data-dir", data_root,
               "--runs-dir", tmp_path, "--overwrite") == 2  # the diverged run is kept without --overwrite
    assert capsys.readouterr().err.strip().endswith(f"the loss is {shown}; lower training.lr")


class Payload:
    """Unpickling this runs a shell command that creates ``marker``: what a hostile checkpoint could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def checkpoint(data_root, configs, tmp_path, capsys):
    """A relatedness checkpoint trained for one epoch."""
    assert run("train", configs / "sick.yaml", "--set", "training.epochs=1", "--data-dir", data_root,
               "--runs-dir", tmp_path / "runs") == 0
    capsys.readouterr()
    return tmp_path / "runs" / "tiny-sick" / "seed-1" / "checkpoint"


def test_the_payload_is_live(tmp_path):
    pickle.loads(pickle.dumps(Payload(tmp_path / "marker")))
    assert (tmp_path / "marker").exists()


@pytest.mark.parametrize("save", [
    lambda payload, path: path.write_bytes(pickle.dumps({"encoder.weight": payload})),
    lambda payload, path: torch.save({"encoder.weight": payload}, path),
], ids=["pickle", "torch.save"])
def test_a_pickled_checkpoint_is_refused_without_running_it(checkpoint, data_root, tmp_path, capsys, save):
    marker = tmp_path / "marker"
    save(Payload(marker), checkpoint / "model.safetensors")
    with pytest.raises(ValueError, match="model.safetensors: not a safetensors weights file .*; pickled weights"):
        load_checkpoint(checkpoint)
    assert run("evaluate", checkpoint, "--data-dir", data_root) == 2
    assert capsys.readouterr().err.startswith(f"treelstm: error: {checkpoint / 'model.safetensors'}: not a safetensors")
    assert not marker.exists()


def test_a_config_asking_for_python_objects_is_refused(checkpoint, tmp_path):
    marker = tmp_path / "marker"
    (checkpoint / "config.yaml").write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ValueError, match="config.yaml:1:1: not valid YAML \\(could not determine a constructor"):
        load_checkpoint(checkpoint)
    assert not marker.exists()


def test_weights_that_do_not_fit_the_config_say_so(checkpoint, capsys, data_root):
    config = checkpoint / "config.yaml"
    config.write_text(config.read_text().replace("hidden_size: 8", "hidden_size: 9"))
    with pytest.raises(ValueError) as error:
        load_checkpoint(checkpoint)
    assert str(error.value).startswith(f"checkpoint {checkpoint}: its weights do not fit its config (")
    assert "encoder.recurrent.cell.U is (16, 8), the model's is (18, 9)" in str(error.value)
    meta = json.loads((checkpoint / "meta.json").read_text())
    (checkpoint / "meta.json").write_text(json.dumps(meta | {"treelstm_version": "0.0.1"}))
    assert run("evaluate", checkpoint, "--data-dir", data_root) == 2
    assert capsys.readouterr().err.strip().endswith(f"; saved by treelstm 0.0.1, this is treelstm {__version__}")


def test_another_version_loads_with_a_warning(checkpoint, capsys, data_root):
    meta = json.loads((checkpoint / "meta.json").read_text())
    (checkpoint / "meta.json").write_text(json.dumps(meta | {"treelstm_version": "0.0.1"}))
    with pytest.warns(VersionWarning, match=f"saved by treelstm 0.0.1, this is treelstm {__version__}"):
        load_checkpoint(checkpoint)
    assert run("evaluate", checkpoint, "--data-dir", data_root) == 0
    assert capsys.readouterr().err.strip() == (
        f"treelstm: warning: checkpoint {checkpoint}; saved by treelstm 0.0.1, this is treelstm {__version__}")


@pytest.mark.parametrize("text, message", [
    ("{", "meta.json:1:2: not valid JSON (Expecting property name enclosed in double quotes)"),
    ("[]", "meta.json: expected a JSON object with an integer embedding_dim"),
])
def test_a_broken_meta_file_is_named(checkpoint, text, message):
    (checkpoint / "meta.json").write_text(text)
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")):
        load_checkpoint(checkpoint)


SAVER = """
import sys, torch
from treelstm.runner.checkpoint import load_checkpoint, save_checkpoint
task, model, vocab, meta = load_checkpoint(sys.argv[1])
for k in range(1, 10**9):
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.fill_(k)
    save_checkpoint(sys.argv[1], model, vocab, task.config, {**meta, "epoch": k})
    print(k, flush=True)
"""


def consistent(folder):
    """The epoch of the checkpoint in ``folder``, after checking that every weight is that number."""
    task, model, vocab, meta = load_checkpoint(folder)
    assert all((tensor == meta["epoch"]).all() for tensor in model.state_dict().values())
    return meta["epoch"]


@pytest.mark.parametrize("kills", [3, pytest.param(50, marks=pytest.mark.slow)])
def test_a_writer_killed_mid_save_leaves_a_whole_checkpoint(checkpoint, kills):
    """A process saves over the checkpoint again and again (weights all k, meta epoch k) and is
    SIGKILLed at a random moment; the folder then loads, weights and meta from the same save."""
    chance = random.Random(0)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    last = 0
    for _ in range(kills):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(checkpoint)], stdout=subprocess.PIPE, text=True,
                                 env=env)
        target = chance.randint(1, 5)
        while int(saver.stdout.readline()) < target:
            pass
        time.sleep(chance.uniform(0, 0.02))
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        saver.stdout.close()
        last = consistent(checkpoint)
        assert last >= target
    assert last


def test_a_save_killed_between_its_renames_leaves_the_previous_checkpoint(checkpoint, monkeypatch):
    task, model, vocab, meta = load_checkpoint(checkpoint)
    renames, rename = [], os.rename

    def killed_at_the_second(source, target):
        renames.append(target)
        if len(renames) == 2:
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after it runs
        rename(source, target)

    monkeypatch.setattr(os, "rename", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(checkpoint, model, vocab, task.config, {**meta, "epoch": 99})
    monkeypatch.undo()
    assert not checkpoint.exists() and load_checkpoint(checkpoint)[3]["epoch"] == meta["epoch"]
    save_checkpoint(checkpoint, model, vocab, task.config, {**meta, "epoch": 7})
    assert load_checkpoint(checkpoint)[3]["epoch"] == 7
    assert [p.name for p in checkpoint.parent.iterdir() if p.name.startswith(".checkpoint")] == []


def records(run_dir):
    """The epochs' records without their timings."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if "seconds" not in k} for line in lines]


def same_numbers(run_dir, reference):
    """The run in ``run_dir`` ended with exactly the metrics of ``reference``."""
    ours, theirs = (json.loads((d / "test_metrics.json").read_text()) for d in (run_dir, reference))
    assert ours["test"] == theirs["test"] and ours["epoch"] == theirs["epoch"] and ours["dev"] == theirs["dev"]
    assert records(run_dir) == records(reference) and len(records(run_dir)) == 3
    assert not (run_dir / "resume").exists()


@pytest.mark.parametrize("name, task, precision", [("sst", "treelstm_tasks.classification.Classification", "fp32"),
                                                   ("ner", "treelstm_tasks.ner.NamedEntities", "fp32"),
                                                   ("ner", "treelstm_tasks.ner.NamedEntities", "fp16")])
def test_ctrl_c_then_resume_gives_the_uninterrupted_numbers(data_root, configs, tmp_path, capsys, monkeypatch,
                                                           name, task, precision):
    """fp16: the gradient scaler's state is resumed too (its scale, its count of good steps)."""
    import importlib

    module, _, cls = task.rpartition(".")
    task_class = getattr(importlib.import_module(module), cls)
    train = ("train", configs / f"{name}.yaml", "--set", "training.epochs=3", "--set", f"training.precision={precision}",
             "--data-dir", data_root)
    assert run(*train, "--runs-dir", tmp_path / "whole") == 0
    reference = next((tmp_path / "whole").glob("*/seed-1"))
    interrupt_at(monkeypatch, task_class, 11)
    assert run(*train, "--runs-dir", tmp_path / "cut") == 130
    run_dir = next((tmp_path / "cut").glob("*/seed-1"))
    last_line = capsys.readouterr().err.strip().splitlines()[-1]  # after the notes, if this process has not said them yet
    assert last_line == f"treelstm: interrupted: resume with treelstm train --resume {run_dir}"
    assert json.loads((run_dir / "resume" / "state.json").read_text())["epoch"] == 1 and len(records(run_dir)) == 1
    monkeypatch.undo()
    assert run("train", "--resume", run_dir, "--data-dir", data_root) == 0
    assert f"\ntiny-{name} seed 1: test " in capsys.readouterr().out
    same_numbers(run_dir, reference)


KILLED_RUN = """
import signal, sys, time
from treelstm_tasks.classification import Classification as Sentiment
from treelstm import cli

# Python leaves SIGINT ignored when it starts ignored (a test run launched in the background); a terminal's Ctrl-C is not
signal.signal(signal.SIGINT, signal.default_int_handler)

loss = Sentiment.loss
Sentiment.loss = lambda self, model, batch: time.sleep(0.1) or loss(self, model, batch)  # slow enough to be stopped
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_killed_or_interrupted_run_resumes_to_the_uninterrupted_numbers(data_root, configs, tmp_path, stop):
    """A ``treelstm train`` process is stopped by a signal as soon as its first resume state is on disk."""
    train = ["train", str(configs / "sst.yaml"), "--set", "training.epochs=3", "--data-dir", str(data_root)]
    assert run(*train, "--runs-dir", tmp_path / "whole") == 0
    run_dir = tmp_path / "cut" / "tiny-sst" / "seed-1"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    trainer = subprocess.Popen([sys.executable, "-c", KILLED_RUN, *train, "--runs-dir", str(tmp_path / "cut")],
                               env=env, stderr=subprocess.PIPE, text=True)
    state = run_dir / "resume" / "state.json"
    while not state.exists():
        assert trainer.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.01)
    trainer.send_signal(stop)
    _, err = trainer.communicate()
    if stop == signal.SIGINT:
        assert trainer.returncode == 130
        assert err.strip().endswith(f"treelstm: interrupted: resume with treelstm train --resume {run_dir}")
    assert not (run_dir / "test_metrics.json").exists() and json.loads(state.read_text())["epoch"] in (1, 2)
    assert run("train", "--resume", run_dir, "--data-dir", data_root) == 0
    same_numbers(run_dir, tmp_path / "whole" / "tiny-sst" / "seed-1")


def test_resume_errors(data_root, configs, tmp_path, capsys, monkeypatch):
    from treelstm_tasks.classification import Classification as Sentiment

    interrupt_at(monkeypatch, Sentiment, 3)
    assert run("train", configs / "sst.yaml", "--data-dir", data_root, "--runs-dir", tmp_path) == 130
    assert capsys.readouterr().err.strip() == "treelstm: interrupted before the first epoch ended; nothing to resume"
    run_dir = tmp_path / "tiny-sst" / "seed-1"
    assert run("train", "--resume", run_dir, "--data-dir", data_root) == 2
    assert capsys.readouterr().err.strip() == (
        f"treelstm: error: {run_dir}: nothing to resume, there is no resume/ folder "
        "(a finished run, or one stopped before its first epoch ended)")
    for argv, message in [
        (("train", "--data-dir", data_root), "train: give a CONFIG file, or --resume RUN_DIR to continue a run"),
        (("train", configs / "sst.yaml", "--resume", run_dir, "--data-dir", data_root),
         "--resume RUN_DIR trains the run's own config: give no CONFIG, --set or --seeds with it"),
        (("train", "--resume", tmp_path, "--data-dir", data_root),
         f"{tmp_path}: not a run folder (runs/NAME/seed-K), config.yaml is missing"),
    ]:
        assert run(*argv) == 2
        assert capsys.readouterr().err.strip() == f"treelstm: error: {message}"


def test_a_resume_state_carrying_a_pickled_payload_is_refused(data_root, configs, tmp_path, capsys, monkeypatch):
    from treelstm_tasks.classification import Classification as Sentiment

    interrupt_at(monkeypatch, Sentiment, 11)
    assert run("train", configs / "sst.yaml", "--data-dir", data_root, "--runs-dir", tmp_path) == 130
    run_dir, marker = tmp_path / "tiny-sst" / "seed-1", tmp_path / "marker"
    torch.save({"optimizers": [Payload(marker)]}, run_dir / "resume" / "state.pt")
    capsys.readouterr()
    assert run("train", "--resume", run_dir, "--data-dir", data_root) == 2
    assert capsys.readouterr().err.strip() == (
        f"treelstm: error: {run_dir / 'resume' / 'state.pt'}: refused, it asks for more than tensors and plain "
        "containers (Trying to load unsupported GLOBAL posix.system whose module posix is blocked)")
    assert not marker.exists()


def test_reproduce_resumes_an_interrupted_run_of_the_same_config(data_root, configs, tmp_path, monkeypatch):
    from treelstm.runner import training
    from treelstm.runner.config import load_config
    from treelstm_tasks.classification import Classification as Sentiment

    config = load_config(configs / "sst.yaml", ["training.epochs=3"])
    seeds.run_seeds([config], 1, data_root, tmp_path / "whole", 1)
    interrupt_at(monkeypatch, Sentiment, 11)
    with pytest.raises(KeyboardInterrupt):
        seeds.run_seeds([config], 1, data_root, tmp_path / "cut", 1)
    monkeypatch.undo()
    run_dir = tmp_path / "cut" / "tiny-sst" / "seed-1"
    other = config.model_copy(update={"training": config.training.model_copy(update={"lr": 0.04})})
    assert seeds._resumable(config, run_dir) and not seeds._resumable(other, run_dir)
    resumed, train = [], training.train
    monkeypatch.setattr(training, "train",
                        lambda *args, **kwargs: resumed.append(kwargs["resume"]) or train(*args, **kwargs))
    seeds.run_seeds([config], 1, data_root, tmp_path / "cut", 1)
    assert resumed == [True]
    same_numbers(run_dir, tmp_path / "whole" / "tiny-sst" / "seed-1")


@pytest.mark.parametrize("name", ["model.safetensors", "vocab.txt", "config.yaml", "meta.json"])
@pytest.mark.parametrize("broken", ["missing", "a folder"])
def test_every_file_of_a_checkpoint_missing_or_a_folder_is_one_line(checkpoint, capsys, data_root, name, broken):
    (checkpoint / name).unlink()
    if broken == "a folder":
        (checkpoint / name).mkdir()
    assert run("evaluate", checkpoint, "--data-dir", data_root) == 2
    expected = "is missing" if broken == "missing" else "is a folder, expected a file"
    assert capsys.readouterr().err == f"treelstm: error: {checkpoint}: not a checkpoint, {name} {expected}\n"
