"""Run a trained checkpoint on raw text.

    >>> from treelstm.predict import load
    >>> detector = load("runs/msrp-dependency-treelstm/seed-1/checkpoint")  # doctest: +SKIP
    >>> detector([("He bought the car.", "The car was bought by him.")])  # doctest: +SKIP
    [{'probability': 0.83, 'label': 'paraphrase', 'warnings': []}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from treelstm.checkpoint import load_checkpoint

__all__ = ["Predictor", "load"]


class Predictor:
    """A checkpoint ready for raw inputs; what an input is depends on the task (sentence pairs
    for paraphrase detection)."""

    def __init__(self, checkpoint: str | Path):
        self.task, self.model, self.vocab, self.meta = load_checkpoint(Path(checkpoint))
        self.model.eval()

    def __call__(self, inputs: Sequence[Any]) -> list[dict]:
        return self.task.predict_raw(self.model, self.vocab, list(inputs))


def load(checkpoint: str | Path) -> Predictor:
    """A :class:`Predictor` for a checkpoint folder."""
    return Predictor(checkpoint)
