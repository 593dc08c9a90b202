"""The device a run uses: ``--device`` / ``training.device``, batches moved with ``.to``, device-free checkpoints."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from treelstm import cli, trees
from treelstm.models.batch import TreeBatch
from treelstm.models.tagger import TaggedBatch
from treelstm.notes import note
from treelstm.runner.device import resolve_device, to_device
from treelstm.runner.text_tasks import PairBatch
from treelstm.text.embeddings import Vocabulary

META = torch.device("meta")


def run(*argv):
    return cli.main([str(a) for a in argv])


def missing(name: str) -> bool:
    """Whether this machine lacks the device ``name``."""
    if name == "mps":
        return not torch.backends.mps.is_available()
    return not torch.cuda.is_available() or (":" in name and int(name.split(":")[1]) >= torch.cuda.device_count())


UNAVAILABLE = [name for name in ("cuda", "cuda:3", "mps") if missing(name)]


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "explain", "reproduce"])
@pytest.mark.parametrize("device", UNAVAILABLE)
def test_a_missing_device_is_one_line_and_exit_2(command, device, data_root, configs, tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()  # never read: the device is refused first
    argv = {"train": ["train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path / "runs"],
            "evaluate": ["evaluate", checkpoint, "--data-dir", data_root],
            "predict": ["predict", checkpoint, "--text", "a text"],
            "explain": ["explain", checkpoint, "--text", "a text", "--output", tmp_path / "x"],
            "reproduce": ["reproduce", "tai2015-sick", "--quick", "--runs-dir", tmp_path / "runs"]}[command]
    assert run(*argv, "--device", device) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"treelstm: error: --device {device}: ")
    assert "use --device cpu" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("device", UNAVAILABLE)
def test_a_missing_device_in_the_config_is_one_line_and_exit_2(device, data_root, configs, tmp_path, capsys):
    assert run("train", configs / "sick.yaml", "--set", f"training.device={device}", "--data-dir", data_root,
               "--runs-dir", tmp_path / "runs") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"training.device {device}: " in err and "use training.device cpu" in err


def test_an_unknown_device_name_is_refused(configs, tmp_path, capsys):
    assert run("train", configs / "sick.yaml", "--device", "gpu", "--runs-dir", tmp_path) == 2
    assert capsys.readouterr().err == "treelstm: error: --device gpu: expected auto, cpu, cuda, cuda:N or mps\n"
    assert run("train", configs / "sick.yaml", "--set", "training.device=tpu", "--runs-dir", tmp_path) == 2
    assert "training.device" in capsys.readouterr().err


def test_auto_is_cuda_when_available_else_cpu():
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto") and resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto is CUDA on this machine")
def test_cpu_and_auto_runs_are_the_runs_without_the_option(data_root, configs, tmp_path, capsys):
    note.cache_clear()  # notes are said once per process
    tests = {}
    for out, extra in (("plain", []), ("cpu", ["--device", "cpu"]), ("auto", ["--device", "auto"])):
        assert run("train", configs / "sick.yaml", "--data-dir", data_root, "--runs-dir", tmp_path / out, *extra) == 0
        folder = tmp_path / out / "tiny-sick" / "seed-1"
        tests[out] = json.loads((folder / "test_metrics.json").read_text())["test"]
        assert json.loads((folder / "checkpoint" / "meta.json").read_text())["device"] == "cpu"
    assert "treelstm: device cpu" in capsys.readouterr().err
    assert tests["cpu"] == tests["plain"] and tests["auto"] == tests["plain"]
    checkpoint = tmp_path / "cpu" / "tiny-sick" / "seed-1" / "checkpoint"
    assert run("evaluate", checkpoint, "--data-dir", data_root, "--device", "cpu") == 0
    assert json.loads(capsys.readouterr().out)["pearson"] == pytest.approx(tests["plain"]["pearson"])


def _tensors(obj, prefix=""):
    """Every tensor field of a batch (dataclasses within it, the schedule's index tensors), by name."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, torch.Tensor):
            out[prefix + f.name] = value
        elif dataclasses.is_dataclass(value) and f.name != "schedule":
            out |= _tensors(value, f"{prefix}{f.name}.")
        elif f.name == "schedule":
            out |= {f"{prefix}schedule.{n}": getattr(value, n) for n in ("order", "position", "child", "parent", "slot")}
    return out


def _on_meta(batch, kept=()):
    moved = to_device(batch, "meta", non_blocking=True)
    assert type(moved) is type(batch)
    tensors = _tensors(moved)
    assert tensors
    for name, tensor in tensors.items():
        assert tensor.device == (torch.device("cpu") if name in kept else META), name
    assert all(t.device == torch.device("cpu") for t in _tensors(batch).values())  # a copy: the batch stays


VOCAB = Vocabulary.build([["a", "b", "c"]])


def test_every_batch_type_moves_every_tensor():
    from treelstm_tasks.classification import TextBatch

    forest = [trees.chain(3), trees.from_ptb("(1 (2 a) (3 (2 b) (1 c)))")]
    tree_batch = TreeBatch.of(forest, VOCAB)
    _on_meta(tree_batch)
    n = tree_batch.graph.num_nodes()
    _on_meta(TextBatch(tree_batch, torch.zeros(n, dtype=torch.long), torch.zeros(2, dtype=torch.long)))
    _on_meta(PairBatch(TreeBatch.of(forest + forest, VOCAB), torch.zeros(2)))
    tagged = TaggedBatch.of([["a", "B"], ["c"]], VOCAB, tags=[[1, 2], [3]])
    _on_meta(tagged, kept=[f"{name}" for name in TaggedBatch.HOST_FIELDS])


def test_cpu_batches_are_not_copied():
    batch = TreeBatch.of([trees.chain(4)], VOCAB).to("cpu")
    again = batch.to(torch.device("cpu"))
    assert again.token_ids is batch.token_ids and again.schedule is batch.schedule
    assert np.array_equal(again.roots.numpy(), batch.roots.numpy())


def test_a_checkpoint_trained_elsewhere_predicts_on_the_cpu(data_root, configs, tmp_path, capsys):
    """A checkpoint is device-free (safetensors of CPU copies): one saved by a CUDA run loads with
    ``map_location`` onto this machine's CPU and predicts."""
    from treelstm.runner.predict import load

    assert run("train", configs / "sick.yaml", "--set", "training.epochs=1", "--data-dir", data_root,
               "--runs-dir", tmp_path, "--device", "cpu") == 0
    checkpoint = tmp_path / "tiny-sick" / "seed-1" / "checkpoint"
    meta = json.loads((checkpoint / "meta.json").read_text())
    (checkpoint / "meta.json").write_text(json.dumps(meta | {"device": "cuda:0"}))  # as a GPU run writes it
    predictor = load(checkpoint, "cpu")
    assert predictor.device == torch.device("cpu")
    assert all(p.device == torch.device("cpu") for p in predictor.model.parameters())
    capsys.readouterr()
    assert run("predict", checkpoint, "--pair", "a man runs .", "a dog sleeps .", "--device", "cpu") == 0
    assert float(capsys.readouterr().out) >= 0
