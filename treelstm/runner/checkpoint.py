"""Checkpoints: weights as safetensors plus the vocabulary, config and metadata as plain files.

A checkpoint folder holds ``model.safetensors``, ``vocab.txt``, ``config.yaml``, ``meta.json`` and
its model card ``README.md`` (:mod:`treelstm.runner.card`). Loading never unpickles anything: a
weights file that is not safetensors (a pickle, say) is refused, as is YAML that asks for Python objects.

Saving is atomic for the folder as a whole (:func:`atomic_folder`): the files are written and
flushed to disk in a staging folder beside it, which then takes the folder's place by renames,
so a run killed while saving leaves the previous checkpoint or the new one, never a mix.

Weights that do not fit the checkpoint's config are an error saying which; a checkpoint saved by
another treelstm version loads with a :class:`VersionWarning`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from treelstm.errors import UserError
from treelstm.files import atomic_folder, atomic_text, settled, write_synced, write_text
from treelstm.runner.card import render
from treelstm.runner.config import Config, load_config
from treelstm.text.embeddings import Vocabulary

__all__ = ["save_checkpoint", "load_checkpoint", "update_card", "load_weights", "load_into", "version_note",
           "VersionWarning"]


class VersionWarning(UserWarning):
    """A checkpoint was saved by another treelstm version."""


def save_checkpoint(folder: Path, model: nn.Module, vocab: Vocabulary, config: Config, meta: dict) -> None:
    """Save a checkpoint folder atomically (see :func:`atomic_folder`), its model card included; ``meta``
    keeps the ``treelstm_version`` it has (a checkpoint saved again elsewhere), else gets this one."""
    from treelstm import __version__

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    meta = {"treelstm_version": __version__, **meta}

    def fill(staging: Path) -> None:
        write_synced(staging / "model.safetensors", lambda path: save_file(state, path))
        write_synced(staging / "vocab.txt", vocab.save)
        write_text(staging / "config.yaml", config.to_yaml())
        write_text(staging / "meta.json", json.dumps(meta, indent=2))
        write_text(staging / "README.md", render(config, meta))

    atomic_folder(folder, fill)


def update_card(folder: Path, metrics: dict[str, dict] | None = None, **facts) -> None:
    """Record ``metrics`` (split -> metrics, e.g. ``{"test": {...}}``) and ``facts`` (``command``,
    ``training_seconds``) in a checkpoint's ``meta.json`` and rewrite its model card (``README.md``)."""
    folder = _folder(folder)
    meta = _read_meta(folder / "meta.json")
    meta = {**meta, **facts, "metrics": {**meta.get("metrics", {}), **(metrics or {})}}
    atomic_text(folder / "meta.json", json.dumps(meta, indent=2))
    atomic_text(folder / "README.md", render(load_config(folder / "config.yaml"), meta))


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

    folder = _folder(folder)
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


def _folder(folder: Path) -> Path:
    """A checkpoint folder (settled, see :func:`settled`) holding every file a checkpoint needs."""
    folder = settled(Path(folder))
    if not folder.is_dir():
        raise UserError(f"{folder}: {'a file' if folder.exists() else 'no such folder'}, expected a checkpoint folder")
    for name in ("model.safetensors", "vocab.txt", "config.yaml", "meta.json"):
        if not (folder / name).exists():
            raise UserError(f"{folder}: not a checkpoint, {name} is missing")
        if not (folder / name).is_file():
            raise UserError(f"{folder}: not a checkpoint, {name} is a folder, expected a file")
    return folder


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
