"""Mixed precision: ``training.precision`` ``fp32`` (default) | ``bf16`` | ``fp16``.

``bf16`` and ``fp16`` run the forward pass (training, dev and test evaluation, prediction) under
``torch.autocast`` in that type; ``fp16`` also scales the loss with a ``torch.amp.GradScaler``, whose
steps skip any batch whose gradients overflowed. The weights, the optimizers' states and the gradients
stay in float32. What runs in the reduced type is autocast's choice (matrix multiplies: the input
projections, the heads, ``torch.nn.LSTM``); the fused Tree-LSTM level loop keeps its states in float32
(:mod:`treelstm.nn.fused_levels`) and the CRF scores in float32
(:class:`~treelstm.models.tagger.SequenceTagger`).
"""

from __future__ import annotations

import contextlib

import torch

from treelstm.errors import UserError

__all__ = ["PRECISIONS", "autocast", "grad_scaler"]

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""Each ``training.precision`` and the autocast dtype it means (None: no autocast)."""


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context the forward pass runs in: ``torch.autocast`` for ``bf16``/``fp16`` on ``device``,
    nothing for ``fp32``. A device type autocast does not support is a UserError."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    if not torch.amp.is_autocast_available(device.type):
        raise UserError(f"training.precision {precision}: torch has no autocast on {device.type}; use fp32")
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A GradScaler for ``fp16`` (its small range underflows gradients without one), else None."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
