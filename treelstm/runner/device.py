"""The device a command runs on: ``auto`` (CUDA when available, else the CPU), ``cpu``, ``cuda``,
``cuda:N`` or ``mps`` (``training.device``, overridden by ``--device``).

Trees and level schedules are built on the CPU by the data pipeline; each collated batch is copied
to the device once (:func:`to_device`). Checkpoints stay device-independent: saved from CPU copies,
loaded with ``map_location``.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from treelstm.errors import UserError

__all__ = ["DEVICES", "resolve_device", "to_device"]

DEVICES = r"^(auto|cpu|mps|cuda(:\d+)?)$"
"""The names a device may be given by."""


def resolve_device(name: str | None = "auto", option: str = "--device") -> torch.device:
    """The ``torch.device`` for ``name`` (None: ``auto``); a device this machine lacks is a UserError
    naming ``option`` (``--device`` or ``training.device``)."""
    name = (name or "auto").strip().lower()
    if not re.match(DEVICES, name):
        raise UserError(f"{option} {name}: expected auto, cpu, cuda, cuda:N or mps")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UserError(f"{option} mps: MPS is not available on this machine "
                            f"(torch.backends.mps.is_available() is False); use {option} cpu")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise UserError(f"{option} {name}: CUDA is not available on this machine "
                        f"(torch.cuda.is_available() is False); use {option} cpu")
    device = torch.device(name)
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise UserError(f"{option} {name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return device


def to_device(batch: Any, device: torch.device | str, non_blocking: bool = False) -> Any:
    """``batch.to(device)`` for a batch type that has it (every built-in one), else ``batch`` as it is."""
    move = getattr(batch, "to", None)
    return batch if move is None else move(device, non_blocking=non_blocking)
