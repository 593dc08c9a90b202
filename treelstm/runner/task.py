"""The Task interface: what differs between tasks (their config, data, model head, loss, metrics,
raw-text predictions) and nothing else; the runner (:mod:`treelstm.runner.training`, the CLI, checkpoints)
is written once for all of them.

Tasks are plug-ins: a task is a class registered under a name in the ``treelstm.tasks``
entry-point group (``pyproject.toml``), so ``treelstm/`` never imports ``tasks/``. Adding a task is
one file (a :class:`Task` subclass with its ``Data`` and ``Model`` config schemas) plus its line in
``[project.entry-points."treelstm.tasks"]``.

What the runner calls, in order::

    task = get_task(config)                    # or get_task(config, state) from a checkpoint
    splits = task.read(data_root)              # {"train", "dev"[, "test"]: datasets.Dataset}
    task.fit(splits["train"])                  # label sets etc. from the training data
    examples = task.examples(splits[name], name)  # in-memory examples (trees built)
    vocab from task.tokens(example); model = task.build_model(embedding)
    per batch: task.collate(examples, vocab) -> task.loss(model, batch) / task.predict(model, batch)
    task.metrics(predictions, examples); task.state() is saved in the checkpoint
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

from datasets import Dataset
from torch import Tensor, nn

from treelstm.errors import UserError
from treelstm.runner.config import Config, ConfigError, Section
from treelstm.runner.registry import task_class
from treelstm.text.embeddings import Vocabulary

__all__ = ["Task", "get_task"]



class Task(ABC):
    """One task kind.

    Attributes:
        Data, Model: the pydantic schemas of the config's ``data`` and ``model`` sections.
        metric: the dev metric that picks the best epoch (higher is better).
        raw_input: what :meth:`predict_raw` takes: ``texts`` or ``pairs`` of texts.
    """

    Data: ClassVar[type[Section]]
    Model: ClassVar[type[Section]]
    metric: ClassVar[str]
    raw_input: ClassVar[str] = "texts"
    caches: ClassVar[bool] = False
    """Whether reading caches expensive steps (parses) on disk, that ``treelstm prepare`` runs ahead."""

    @classmethod
    def check(cls, config: Config) -> None:
        """Raise ValueError (``key: what is wrong``) for settings that are valid one by one but not
        together (e.g. a chain LSTM over dependency trees); called when a config is loaded."""

    def __init__(self, config: Config, state: dict | None = None):
        self.config = config
        if state is not None:
            self.restore(state)

    @abstractmethod
    def read(self, data_root: Path | None, splits: Sequence[str] | None = None,
             progress: bool = True) -> dict[str, Dataset]:
        """The task's splits as Hugging Face datasets (by default train, dev and, when there is one,
        test; ``splits`` asks for others by name, e.g. for ``treelstm evaluate --split``)."""

    def fit(self, train: Dataset) -> None:
        """Learn what the model's shape depends on (e.g. the label set) from the training split."""

    def state(self) -> dict:
        """What :meth:`fit` learnt, as JSON data, saved with a checkpoint."""
        return {}

    def restore(self, state: dict) -> None:
        """Take back what :meth:`state` returned."""

    @abstractmethod
    def examples(self, dataset: Dataset, split: str = "data") -> list[Any]:
        """In-memory examples (trees built, labels as ids) from a dataset's rows; ``split`` names the
        dataset in errors (e.g. a label not seen in training)."""

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
        lets :mod:`treelstm.runner.distributed` split a batch across processes (it weights each share's loss
        by its number of examples)."""

    @abstractmethod
    def predict(self, model: nn.Module, batch: Any) -> Tensor:
        """One prediction per example of the batch."""

    @abstractmethod
    def metrics(self, predictions: Tensor, examples: Sequence[Any]) -> dict[str, float]:
        """Metrics of predictions against the examples' gold labels."""

    def prepare(self, data_root: Path | None, progress: bool = True) -> dict[str, int]:
        """Run the expensive, cached steps of reading (parsing) ahead of training; sizes of the splits."""
        return {name: len(split) for name, split in self.read(data_root, progress=progress).items()}

    def predict_raw(self, model: nn.Module, vocab: Vocabulary, inputs: Sequence[Any]) -> list[dict]:
        """Predictions on raw inputs (texts, or pairs of texts: :attr:`raw_input`), one dict each."""
        raise UserError(f"the {self.config.task} task does not predict on raw text")

    def explain_raw(self, model: nn.Module, vocab: Vocabulary, *, gates: bool = False, **given: Any):
        """An :class:`~treelstm.viz.explanation.Explanation` of the model on one raw input (``text``, ``tree``
        or ``pair``, see :func:`treelstm.runner.predict.explain`); tasks that cannot say so."""
        raise UserError(f"explain draws tree models of text tasks; this checkpoint's task is {self.config.task}")


def get_task(config: Config, state: dict | None = None) -> Task:
    """The task a config names, with the ``state`` a checkpoint saved (label sets...), if any."""
    try:
        cls = task_class(config.task)
    except ValueError as error:
        raise ConfigError(f"task: {error}") from None
    return cls(config, state)
