"""Run a trained checkpoint on raw text: :func:`load` (also ``treelstm.load``) gives any checkpoint's
:class:`Predictor`, with one ``predict(inputs)`` for every task and the ``labels`` it predicts.

    >>> import treelstm
    >>> detector = treelstm.load("runs/msrp-dependency-treelstm/seed-1/checkpoint")  # doctest: +SKIP
    >>> detector.labels  # doctest: +SKIP
    ('not_paraphrase', 'paraphrase')
    >>> detector.predict([("He bought the car.", "The car was bought by him.")])  # doctest: +SKIP
    [{'label': 'paraphrase', 'probability': 0.83, 'probabilities': {...}, 'warnings': []}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from treelstm.errors import UserError
from treelstm.runner.card import labels
from treelstm.runner.checkpoint import load_checkpoint, save_checkpoint
from treelstm.runner.device import resolve_device
from treelstm.runner.precision import autocast
from treelstm.runner.text_tasks import doc_trees
from treelstm.viz.explanation import Explanation

__all__ = ["Predictor", "load", "explain", "doc_trees"]  # doc_trees: from treelstm.runner.text_tasks


class Predictor:
    """A checkpoint ready for raw inputs. ``device``: ``auto`` (default: CUDA when available), ``cpu``,
    ``cuda``, ``cuda:N`` or ``mps``, or a ``torch.device``; the checkpoint is loaded onto it
    (``map_location``), wherever it was trained. It predicts in the precision it was trained in
    (``training.precision``: under ``torch.autocast`` for bf16 and fp16).

    Attributes:
        task: the checkpoint's task (``task.config`` its config); ``model``, ``vocab``, ``meta``: its
            model, vocabulary and ``meta.json``.
        labels: what it predicts (:func:`treelstm.runner.card.labels`): entity types, classes, or none
            for a score.
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device | None = None):
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.task, self.model, self.vocab, self.meta = load_checkpoint(Path(checkpoint), map_location=self.device)
        self.model.eval()
        self.labels = labels(self.meta)

    def predict(self, inputs: Sequence[Any]) -> list[dict]:
        """One dict per input, as the task says (``task.predict_raw``):

        * texts (``ner``): ``entities`` (``start``, ``end`` character offsets, ``type``, ``text``),
          ``sentences`` (tokens with their IOB2 ``tag``), ``warnings``;
        * texts (``classification``): ``label``, ``probability``, ``probabilities``, ``warnings``;
        * ``(text_a, text_b)`` pairs: ``label`` and ``probability`` (pair-classification) or ``score``
          (pair-regression), ``warnings``.

        A text may be a string, which spaCy tokenizes (and parses, for dependency and constituency
        models), or a spaCy ``Doc``, read as it is: its own tokens and sentences, and its own dependency
        parse when it has one (:func:`doc_trees`).

        Raises:
            UserError: one string instead of a list of inputs; an empty text (classification, pairs).
        """
        if isinstance(inputs, str):
            raise UserError("predict takes a list of inputs (texts, text pairs or spaCy Docs), not one string: "
                            "wrap it in a list")
        with autocast(self.task.config.training.precision, self.device):
            return self.task.predict_raw(self.model, self.vocab, list(inputs))

    __call__ = predict

    def save(self, folder: str | Path) -> None:
        """Save the checkpoint to ``folder`` (weights, vocabulary, config, meta and model card)."""
        save_checkpoint(Path(folder), self.model, self.vocab, self.task.config, self.meta)


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
