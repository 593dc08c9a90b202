"""The Task interface: what differs between tasks (data, model head, loss, metrics) and nothing else.

Tasks live outside the library (``tasks/``) and are found by name through the
``treelstm.tasks`` entry-point group, so ``treelstm/`` never imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Iterable, Sequence

from datasets import Dataset
from torch import Tensor, nn

from treelstm.config import Config, ConfigError
from treelstm.embeddings import Vocabulary

__all__ = ["Task", "get_task"]


class Task(ABC):
    """One benchmark task. The :mod:`treelstm.training` loop calls, in order: :meth:`read`,
    :meth:`examples`, :meth:`tokens` (to build the vocabulary), :meth:`build_model`, then per
    batch :meth:`collate` and :meth:`loss`, and to evaluate :meth:`predict` and :meth:`metrics`.

    Attributes:
        metric: the dev metric that picks the best epoch (higher is better).
        splits: names of the train, dev and test splits.
    """

    metric: str
    splits = ("train", "dev", "test")
    eval_splits = splits
    """Splits ``treelstm evaluate`` accepts (a task may add e.g. a cross-domain test set)."""
    raw_input = "pairs"
    """What :meth:`predict_raw` takes: ``pairs`` of sentences or ``texts``."""

    def __init__(self, config: Config):
        self.config = config

    @abstractmethod
    def read(self, data_root: Path) -> dict[str, Dataset]:
        """The task's splits as Hugging Face datasets, read from the published files."""

    def read_split(self, data_root: Path, name: str) -> Dataset:
        """One evaluation split by name."""
        if name not in self.eval_splits:
            raise ValueError(f"unknown split {name!r}; the {self.config.task} task has {', '.join(self.eval_splits)}")
        return self.read(data_root)[name]

    def predict_raw(self, model: nn.Module, vocab: Vocabulary, inputs: Sequence[Any]) -> list[dict]:
        """Predictions on raw text (see each task); tasks that cannot say so."""
        raise ValueError(f"the {self.config.task} task does not predict on raw text")

    def explain_raw(self, model: nn.Module, vocab: Vocabulary, *, gates: bool = False, **given: Any):
        """An :class:`~treelstm.explain.Explanation` of the model on one raw input (``text``, ``tree``
        or ``pair``, see :func:`treelstm.explain.explain`); tasks that cannot say so."""
        raise ValueError(f"explain supports sentiment and paraphrase checkpoints; this one is {self.config.task}")

    @abstractmethod
    def examples(self, dataset: Dataset) -> list[Any]:
        """In-memory examples (trees built) from a dataset's rows."""

    @abstractmethod
    def tokens(self, example: Any) -> Iterable[str]:
        """The words of an example, for the vocabulary."""

    @abstractmethod
    def build_model(self, embedding: nn.Embedding) -> nn.Module:
        """The model, around the given word table."""

    @abstractmethod
    def collate(self, examples: Sequence[Any], vocab: Vocabulary) -> Any:
        """One batch from examples."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> Tensor:
        """The training loss of a batch (a scalar): a mean over the batch's examples, which is what
        lets :mod:`treelstm.distributed` split a batch across processes (it weights each share's loss
        by its number of examples)."""

    @abstractmethod
    def predict(self, model: nn.Module, batch: Any) -> Tensor:
        """One prediction per example of the batch."""

    @abstractmethod
    def metrics(self, predictions: Tensor, examples: Sequence[Any]) -> dict[str, float]:
        """Metrics of predictions against the examples' gold labels."""


def get_task(config: Config) -> Task:
    """The task a config names, from the ``treelstm.tasks`` entry points."""
    found = {ep.name: ep for ep in entry_points(group="treelstm.tasks")}
    if config.task not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise ConfigError(f"task {config.task!r} is not known (known tasks: {known})")
    return found[config.task].load()(config)
