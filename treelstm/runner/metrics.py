"""Metrics of classifiers: accuracy, macro-F1 and each class's F1 (scikit-learn's)."""

from __future__ import annotations

from typing import Sequence

__all__ = ["classification_metrics"]


def classification_metrics(predicted: Sequence[int], gold: Sequence[int], names: Sequence[str],
                           classes: Sequence[int] | None = None) -> dict[str, float]:
    """``accuracy``, ``macro_f1`` and ``f1_NAME`` for each of ``classes`` (default: every class).

    >>> metrics = classification_metrics([0, 1, 1, 1], [0, 1, 0, 1], ["no", "yes"])
    >>> {name: round(value, 3) for name, value in metrics.items()}
    {'accuracy': 0.75, 'macro_f1': 0.733, 'f1_no': 0.667, 'f1_yes': 0.8}
    """
    from sklearn.metrics import accuracy_score, f1_score  # imported when needed: it takes seconds

    classes = list(range(len(names))) if classes is None else list(classes)
    per_class = f1_score(gold, predicted, labels=classes, average=None, zero_division=0)
    return {"accuracy": float(accuracy_score(gold, predicted)), "macro_f1": float(per_class.mean()),
            **{f"f1_{names[c]}": float(f) for c, f in zip(classes, per_class)}}
