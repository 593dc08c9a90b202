"""Resumable training: what a run stopped after epoch N needs to go on as if it had never stopped.

After every epoch the training loop saves ``RUN_DIR/resume/``, atomically as a whole
(:func:`treelstm.runner.checkpoint.atomic_folder`):

* ``model.safetensors`` -- the weights;
* ``state.pt`` -- the optimizers' and learning-rate schedulers' states, fp16's gradient scaler's, and
  the torch RNG states (the global one and, on CUDA, each GPU's, which drive dropout, and the
  shuffling generator's), read back onto the CPU (optimizers move their states to their parameters) with
  ``torch.load(weights_only=True)``: tensors and plain containers only, never code;
* ``state.json`` -- the epoch, the Python and numpy RNG states, the wall seconds so far and the
  treelstm version.

The best epoch so far is the run's ``checkpoint/`` (its ``meta.json`` holds its epoch and dev
metrics) and the epochs' records are ``metrics.jsonl``; a record written after the last saved state
(a run killed in between) is dropped on resuming, and that epoch trained again. The folder is
removed when the run finishes. On CPU a resumed run ends with exactly the numbers of an
uninterrupted one.
"""

from __future__ import annotations

import json
import pickle
import random
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from treelstm.errors import UserError
from treelstm.files import atomic_folder, atomic_text, settled, write_synced, write_text
from treelstm.runner.checkpoint import VersionWarning, load_into, load_weights, version_note

__all__ = ["Interrupted", "interrupted", "save_state", "restore", "best_so_far", "kept_records", "folder",
           "check_resumable"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says whether and how the run can be resumed."""


def folder(run_dir: Path) -> Path:
    """Where a run's resumable state lives."""
    return Path(run_dir) / "resume"


def interrupted(run_dir: Path) -> Interrupted:
    """The Interrupted to raise for a run stopped by Ctrl-C."""
    if settled(folder(run_dir)).exists():
        return Interrupted(f"interrupted: resume with treelstm train --resume {run_dir}")
    return Interrupted("interrupted before the first epoch ended; nothing to resume")


def save_state(run_dir: Path, epoch: int, model: nn.Module, optimizers: list, schedulers: list,
               generator: torch.Generator, wall_seconds: float, scaler: torch.amp.GradScaler | None = None) -> None:
    """Save the state after ``epoch`` (see the module's docstring)."""
    from safetensors.torch import save_file

    from treelstm import __version__

    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    tensors = {"optimizers": [o.state_dict() for o in optimizers], "schedulers": [s.state_dict() for s in schedulers],
               "torch_rng": torch.get_rng_state(), "shuffle_rng": generator.get_state()}
    if scaler is not None:
        tensors["scaler"] = scaler.state_dict()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["cuda_rng"] = torch.cuda.get_rng_state_all()
    numpy_rng = np.random.get_state(legacy=False)
    numpy_rng["state"]["key"] = numpy_rng["state"]["key"].tolist()
    plain = {"epoch": epoch, "wall_seconds": wall_seconds, "python_rng": random.getstate(), "numpy_rng": numpy_rng,
             "treelstm_version": __version__}

    def fill(staging: Path) -> None:
        write_synced(staging / "model.safetensors", lambda path: save_file(weights, path))
        write_synced(staging / "state.pt", lambda path: torch.save(tensors, path))
        write_text(staging / "state.json", json.dumps(plain))

    atomic_folder(folder(run_dir), fill)


def check_resumable(run_dir: Path) -> Path:
    """The saved state's folder; a FileNotFoundError saying so when there is none."""
    where = settled(folder(run_dir))
    if not where.is_dir():
        raise FileNotFoundError(f"{run_dir}: nothing to resume, there is no {folder(run_dir).name}/ folder "
                                "(a finished run, or one stopped before its first epoch ended)")
    return where


def restore(run_dir: Path, model: nn.Module, optimizers: list, schedulers: list,
            generator: torch.Generator, scaler: torch.amp.GradScaler | None = None) -> tuple[int, float]:
    """Load the saved state into the freshly built objects; returns the epoch done and the wall seconds so far."""
    where = check_resumable(run_dir)
    plain = json.loads((where / "state.json").read_text(encoding="utf-8"))
    tensors = _load_tensors(where / "state.pt")
    load_into(model, load_weights(where / "model.safetensors"), str(where), version_note(plain))
    if version_note(plain):
        warnings.warn(f"{where}{version_note(plain)}: the resumed run may differ from an uninterrupted one",
                      VersionWarning, stacklevel=2)
    for optimizer, state in zip(optimizers, tensors["optimizers"], strict=True):
        optimizer.load_state_dict(state)
    for scheduler, state in zip(schedulers, tensors["schedulers"], strict=True):
        scheduler.load_state_dict(state)
    if scaler is not None and "scaler" in tensors:
        scaler.load_state_dict(tensors["scaler"])
    torch.set_rng_state(tensors["torch_rng"])
    if "cuda_rng" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(tensors["cuda_rng"])
    generator.set_state(tensors["shuffle_rng"])
    version, internal, gauss = plain["python_rng"]
    random.setstate((version, tuple(internal), gauss))
    plain["numpy_rng"]["state"]["key"] = np.array(plain["numpy_rng"]["state"]["key"], dtype=np.uint32)
    np.random.set_state(plain["numpy_rng"])
    return plain["epoch"], plain["wall_seconds"]


def _load_tensors(path: Path) -> dict:
    """``state.pt`` through ``torch.load(weights_only=True)``; a file asking for anything else is refused."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        reason = lines[1] if len(lines) > 1 else lines[0]  # torch's first line is general advice
        raise UserError(f"{path}: refused, it asks for more than tensors and plain containers ({reason.rstrip('.')})"
                         ) from None
    except RuntimeError:
        raise UserError(f"{path}: not a readable torch file (truncated or corrupt)") from None


def best_so_far(run_dir: Path, metric: str) -> tuple[float, int]:
    """The best dev ``metric`` and its epoch, from the run's checkpoint (``-inf, 0`` before there is one)."""
    meta = settled(Path(run_dir) / "checkpoint") / "meta.json"
    if not meta.exists():
        return -float("inf"), 0
    saved = json.loads(meta.read_text(encoding="utf-8"))
    return saved["dev"][metric], saved["epoch"]


def kept_records(log: Path, epochs: int) -> list[dict]:
    """The records of the first ``epochs`` epochs in ``metrics.jsonl``; the file is cut back to them."""
    if not log.exists():
        return []
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    records = [record for record in records if record["epoch"] <= epochs]
    text = "".join(json.dumps(record) + "\n" for record in records)
    atomic_text(log, text)
    return records
