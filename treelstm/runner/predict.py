"""Run a trained checkpoint on raw text.

    >>> from treelstm.runner.predict import load
    >>> detector = load("runs/msrp-dependency-treelstm/seed-1/checkpoint")  # doctest: +SKIP
    >>> detector([("He bought the car.", "The car was bought by him.")])  # doctest: +SKIP
    [{'probability': 0.83, 'label': 'paraphrase', 'warnings': []}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from treelstm.errors import UserError
import torch

from treelstm.runner.checkpoint import load_checkpoint
from treelstm.runner.device import resolve_device
from treelstm.viz.explanation import Explanation

__all__ = ["Predictor", "load", "explain"]


class Predictor:
    """A checkpoint ready for raw inputs; what an input is depends on the task (sentence pairs
    for paraphrase detection). ``device``: ``auto`` (default: CUDA when available), ``cpu``, ``cuda``,
    ``cuda:N`` or ``mps``, or a ``torch.device``; the checkpoint is loaded onto it (``map_location``),
    wherever it was trained."""

    def __init__(self, checkpoint: str | Path, device: str | torch.device | None = None):
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.task, self.model, self.vocab, self.meta = load_checkpoint(Path(checkpoint), map_location=self.device)
        self.model.eval()

    def __call__(self, inputs: Sequence[Any]) -> list[dict]:
        return self.task.predict_raw(self.model, self.vocab, list(inputs))


def load(checkpoint: str | Path, device: str | torch.device | None = None) -> Predictor:
    """A :class:`Predictor` for a checkpoint folder, on ``device`` (see :class:`Predictor`)."""
    return Predictor(checkpoint, device)


def explain(
    checkpoint: str | Path | Predictor,
    text: str | None = None,
    *,
    tree: str | None = None,
    pair: tuple[str, str] | None = None,
    gates: bool = False,
    device: str | torch.device | None = None,
) -> Explanation:
    """Run a checkpoint on one input and keep what it computed at every node.

    Args:
        checkpoint: a checkpoint folder, or a loaded :class:`~treelstm.runner.predict.Predictor`.
        text: a text (classification), parsed by spaCy.
        tree: a PTB-bracketed tree as in SST, ``(3 (2 It) (4 works))`` (classification).
        pair: two texts (pair-classification, pair-regression).
        gates: also keep the gate activations.
        device: where to run a checkpoint folder (see :class:`Predictor`).

    Give exactly one of ``text``, ``tree`` and ``pair``.

    Raises:
        ValueError: a task or model that cannot be explained, an input of the wrong kind, an empty
            sentence, a malformed tree.
    """
    given = {name: value for name, value in (("text", text), ("tree", tree), ("pair", pair)) if value is not None}
    if len(given) != 1:
        raise UserError(f"explain takes one input: text, tree or pair (got {', '.join(given) or 'none'})")
    predictor = checkpoint if isinstance(checkpoint, Predictor) else load(checkpoint, device)
    return predictor.task.explain_raw(predictor.model, predictor.vocab, gates=gates, **given)
