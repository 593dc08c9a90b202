"""Label sets: the classes of a task, read from its training data and saved with its checkpoints.

    >>> labels = Labels.of(["entailment", "neutral", "entailment", "contradiction"])
    >>> labels.names, labels.encode(["neutral", "contradiction"], "dev")
    (('contradiction', 'entailment', 'neutral'), [2, 0])
    >>> Labels.of(["10", "9", "1"]).names  # numbers in numeric order
    ('1', '9', '10')
    >>> labels.encode(["entails"], "dev")
    Traceback (most recent call last):
    treelstm.errors.UserError: dev example 1: the label 'entails' is not among the training labels (contradiction, entailment, neutral)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from treelstm.errors import UserError
from treelstm.files import finite_number

__all__ = ["Labels"]


@dataclass(frozen=True)
class Labels:
    """Class names in class-id order."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, values: Iterable[str], order: Sequence[str] | None = None) -> "Labels":
        """The distinct ``values``: in ``order`` when given (every value must be in it), else sorted,
        numerically when every label is a number."""
        seen = set(values)
        if order is not None:
            unknown = sorted(seen - set(order))
            if unknown:
                raise UserError(f"the label {unknown[0]!r} of the training data is not in data.labels "
                                 f"({', '.join(order)})")
            return cls(tuple(order))
        numbers = {label: finite_number(label) for label in seen}
        if all(value is not None for value in numbers.values()):
            return cls(tuple(sorted(seen, key=lambda label: (numbers[label], label))))
        return cls(tuple(sorted(seen)))

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, values: Iterable[str], split: str) -> list[int]:
        """Class ids of ``values``; a label not in the set is a ValueError naming the ``split`` and example."""
        ids = {name: i for i, name in enumerate(self.names)}
        out = []
        for k, value in enumerate(values, 1):
            if value not in ids:
                raise UserError(f"{split} example {k}: the label {value!r} is not among the training labels "
                                 f"({', '.join(self.names)})")
            out.append(ids[value])
        return out
