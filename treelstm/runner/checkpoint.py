"""Checkpoints: weights as safetensors plus the vocabulary, config and metadata as plain files.

A checkpoint folder holds ``model.safetensors``, ``vocab.txt``, ``config.yaml`` and
``meta.json``. Loading never unpickles anything: a weights file that is not safetensors (a
pickle, say) is refused, as is YAML that asks for Python objects.

Saving is atomic for the folder as a whole (:func:`atomic_folder`): the files are written and
flushed to disk in a staging folder beside it, which then takes the folder's place by renames,
so a run killed while saving leaves the previous checkpoint or the new one, never a mix.

Weights that do not fit the checkpoint's config are an error saying which; a checkpoint saved by
another treelstm version loads with a :class:`VersionWarning`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from treelstm.errors import UserError
from treelstm.runner.config import Config, load_config
from treelstm.text.embeddings import Vocabulary

__all__ = ["save_checkpoint", "load_checkpoint", "load_weights", "load_into", "atomic_write", "atomic_folder",
           "settled", "remove_folder", "write_synced", "write_text", "version_note", "VersionWarning"]


class VersionWarning(UserWarning):
    """A checkpoint was saved by another treelstm version."""


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, fsync it, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write_synced(Path(tmp), write)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_folder(folder: Path, fill: Callable[[Path], None]) -> None:
    """Replace ``folder`` by the files ``fill(staging)`` writes (each flushed to disk with
    :func:`write_synced`) into a staging folder beside it.

    Two renames swap the staging folder in: ``folder`` becomes ``.NAME.old``, then the staging
    folder becomes ``folder``. A process killed at any point leaves the previous contents or the
    new ones whole; between the renames only ``.NAME.old`` exists, and :func:`settled` finds it."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{folder.name}.new-*"):  # staging left by a killed save
        shutil.rmtree(stale)
    staging = folder.with_name(f".{folder.name}.new-{os.getpid()}")
    staging.mkdir()
    fill(staging)
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.rename(folder, old)
    os.rename(staging, folder)
    _fsync_folder(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


def remove_folder(folder: Path) -> None:
    """Remove a folder saved by :func:`atomic_folder`, with what a killed save left beside it."""
    folder = Path(folder)
    for path in (folder, folder.with_name(f".{folder.name}.old"), *folder.parent.glob(f".{folder.name}.new-*")):
        shutil.rmtree(path, ignore_errors=True)


def settled(folder: Path) -> Path:
    """``folder``, or its previous contents when a save was killed between :func:`atomic_folder`'s renames."""
    folder = Path(folder)
    old = folder.with_name(f".{folder.name}.old")
    return old if not folder.exists() and old.is_dir() else folder


def write_synced(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(path)``, then flush the file to disk."""
    write(str(path))
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 and flush it to disk."""
    write_synced(path, lambda p: Path(p).write_text(text, encoding="utf-8"))


def save_checkpoint(folder: Path, model: nn.Module, vocab: Vocabulary, config: Config, meta: dict) -> None:
    """Save a checkpoint folder atomically (see :func:`atomic_folder`)."""
    from treelstm import __version__

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}

    def fill(staging: Path) -> None:
        write_synced(staging / "model.safetensors", lambda path: save_file(state, path))
        write_synced(staging / "vocab.txt", vocab.save)
        write_text(staging / "config.yaml", config.to_yaml())
        write_text(staging / "meta.json", json.dumps({"treelstm_version": __version__, **meta}, indent=2))

    atomic_folder(folder, fill)


def load_weights(path: Path, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; anything else (a pickle, a truncated file) is a ValueError."""
    try:
        return load_file(path, device=str(map_location))
    except SafetensorError as error:
        raise UserError(f"{path}: not a safetensors weights file ({error}); pickled weights are never loaded"
                         ) from None


def load_checkpoint(folder: Path, map_location: str | torch.device = "cpu"):
    """Rebuild ``(task, model, vocab, meta)`` from a checkpoint folder (the task with the state it was
    fitted to: its labels...)."""
    from treelstm.runner.task import get_task

    folder = settled(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such checkpoint folder")
    for name in ("model.safetensors", "vocab.txt", "config.yaml", "meta.json"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder}: not a checkpoint, {name} is missing")
    config = load_config(folder / "config.yaml")
    vocab = Vocabulary.load(folder / "vocab.txt")
    meta = _read_meta(folder / "meta.json")
    state = load_weights(folder / "model.safetensors", map_location)
    try:
        task = get_task(config, meta["task_state"])
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"{folder / 'meta.json'}: its task_state does not fit the {config.task} task") from None
    embedding = nn.Embedding(len(vocab), meta["embedding_dim"], padding_idx=0)
    embedding.weight.requires_grad_(not config.embeddings.freeze)
    model = task.build_model(embedding)
    load_into(model, state, f"checkpoint {folder}", version_note(meta))
    if version_note(meta):
        warnings.warn(f"checkpoint {folder}{version_note(meta)}", VersionWarning, stacklevel=2)
    return task, model.to(map_location), vocab, meta


def load_into(model: nn.Module, state: dict[str, torch.Tensor], where: str, note: str = "") -> None:
    """``model.load_state_dict(state)``, or a ValueError saying how the weights do not fit the model
    (``where`` names their source, ``note`` is appended)."""
    misfits = _misfits(state, model.state_dict())
    if misfits:
        raise UserError(f"{where}: its weights do not fit its config ({'; '.join(misfits[:3])}"
                         f"{'; ...' * (len(misfits) > 3)}){note}")
    model.load_state_dict(state)


def _read_meta(path: Path) -> dict:
    """``meta.json``: a JSON object with at least ``embedding_dim``."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("embedding_dim"), int):
        raise UserError(f"{path}: expected a JSON object with an integer embedding_dim")
    return meta


def _misfits(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """How the saved tensors differ from those of the model built from the config."""
    missing = [f"{name} is missing" for name in expected if name not in state]
    unexpected = [f"{name} is not in the model" for name in state if name not in expected]
    shapes = [f"{name} is {tuple(state[name].shape)}, the model's is {tuple(tensor.shape)}"
              for name, tensor in expected.items() if name in state and state[name].shape != tensor.shape]
    return missing + unexpected + shapes


def version_note(meta: dict) -> str:
    """``"; saved by treelstm A, this is treelstm B"`` when the versions differ, else ``""``."""
    from treelstm import __version__

    saved = meta.get("treelstm_version", "unknown")
    return "" if saved == __version__ else f"; saved by treelstm {saved}, this is treelstm {__version__}"
