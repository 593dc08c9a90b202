"""Checkpoints: weights as safetensors plus the vocabulary, config and metadata as plain files.

A checkpoint folder holds ``model.safetensors``, ``vocab.txt``, ``config.yaml`` and
``meta.json``. Loading never unpickles anything: a weights file that is not safetensors (a
pickle, say) is refused, as is YAML that asks for Python objects. Each file is written to a
temporary name, flushed to disk and renamed into place, so a run killed while saving leaves
whole files. Weights that do not fit the checkpoint's config are an error saying which; a
checkpoint saved by another treelstm version loads with a :class:`VersionWarning`.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from treelstm.config import Config, load_config
from treelstm.embeddings import Vocabulary

__all__ = ["save_checkpoint", "load_checkpoint", "load_weights", "atomic_write", "VersionWarning"]


class VersionWarning(UserWarning):
    """A checkpoint was saved by another treelstm version."""


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, fsync it, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_text(path: Path, text: str) -> None:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, write)


def save_checkpoint(folder: Path, model: nn.Module, vocab: Vocabulary, config: Config, meta: dict) -> None:
    from treelstm import __version__

    folder = Path(folder)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    atomic_write(folder / "model.safetensors", lambda tmp: save_file(state, tmp))
    _write_text(folder / "vocab.txt", "".join(token + "\n" for token in vocab.tokens))
    _write_text(folder / "config.yaml", config.to_yaml())
    _write_text(folder / "meta.json", json.dumps({"treelstm_version": __version__, **meta}, indent=2))


def load_weights(path: Path, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; anything else (a pickle, a truncated file) is a ValueError."""
    try:
        return load_file(path, device=str(map_location))
    except SafetensorError as error:
        raise ValueError(f"{path}: not a safetensors weights file ({error}); pickled weights are never loaded") from None


def load_checkpoint(folder: Path, map_location: str | torch.device = "cpu"):
    """Rebuild ``(task, model, vocab, meta)`` from a checkpoint folder."""
    from treelstm.task import get_task

    folder = Path(folder)
    for name in ("model.safetensors", "vocab.txt", "config.yaml", "meta.json"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder}: not a checkpoint, {name} is missing")
    config = load_config(folder / "config.yaml")
    vocab = Vocabulary.load(folder / "vocab.txt")
    meta = _read_meta(folder / "meta.json")
    state = load_weights(folder / "model.safetensors", map_location)
    task = get_task(config)
    embedding = nn.Embedding(len(vocab), meta["embedding_dim"], padding_idx=0)
    embedding.weight.requires_grad_(not config.embeddings.freeze)
    model = task.build_model(embedding)
    misfits = _misfits(state, model.state_dict())
    if misfits:
        raise ValueError(f"checkpoint {folder}: its weights do not fit its config ({'; '.join(misfits[:3])}"
                         f"{'; ...' * (len(misfits) > 3)}){_version_note(meta)}")
    model.load_state_dict(state)
    if _version_note(meta):
        warnings.warn(f"checkpoint {folder}{_version_note(meta)}", VersionWarning, stacklevel=2)
    return task, model.to(map_location), vocab, meta


def _read_meta(path: Path) -> dict:
    """``meta.json``: a JSON object with at least ``embedding_dim``."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("embedding_dim"), int):
        raise ValueError(f"{path}: expected a JSON object with an integer embedding_dim")
    return meta


def _misfits(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """How the saved tensors differ from those of the model built from the config."""
    missing = [f"{name} is missing" for name in expected if name not in state]
    unexpected = [f"{name} is not in the model" for name in state if name not in expected]
    shapes = [f"{name} is {tuple(state[name].shape)}, the model's is {tuple(tensor.shape)}"
              for name, tensor in expected.items() if name in state and state[name].shape != tensor.shape]
    return missing + unexpected + shapes


def _version_note(meta: dict) -> str:
    """``"; saved by treelstm A, this is treelstm B"`` when the versions differ, else ``""``."""
    from treelstm import __version__

    saved = meta.get("treelstm_version", "unknown")
    return "" if saved == __version__ else f"; saved by treelstm {saved}, this is treelstm {__version__}"
