"""Checkpoints: weights as safetensors plus the vocabulary, config and metadata as plain files.

A checkpoint folder holds ``model.safetensors``, ``vocab.txt``, ``config.yaml`` and
``meta.json``. Loading never unpickles anything. Each file is written to a temporary name,
flushed to disk and renamed into place, so a run killed while saving leaves whole files.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from treelstm.config import Config, parse_config
from treelstm.embeddings import Vocabulary

__all__ = ["save_checkpoint", "load_checkpoint", "atomic_write"]


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


def load_checkpoint(folder: Path, map_location: str | torch.device = "cpu"):
    """Rebuild ``(task, model, vocab, meta)`` from a checkpoint folder."""
    from treelstm.task import get_task

    folder = Path(folder)
    for name in ("model.safetensors", "vocab.txt", "config.yaml", "meta.json"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder}: not a checkpoint, {name} is missing")
    config = parse_config(yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")), str(folder / "config.yaml"))
    vocab = Vocabulary.load(folder / "vocab.txt")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    state = load_file(folder / "model.safetensors", device=str(map_location))
    task = get_task(config)
    embedding = nn.Embedding(len(vocab), meta["embedding_dim"], padding_idx=0)
    embedding.weight.requires_grad_(not config.embeddings.freeze)
    model = task.build_model(embedding)
    model.load_state_dict(state)
    return task, model.to(map_location), vocab, meta
