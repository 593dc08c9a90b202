"""Where a task's examples come from: the config's ``data`` section, and the reading it asks for.

A ``data`` section names a *format* and its files; every task kind validates it with its own
subclass of :class:`DataConfig` (its roles, its formats, its own keys):

=============  ===============================================================================
format         reads
=============  ===============================================================================
``conll``      token/tag columns, one token a line, blank (or whitespace-only) lines between sentences
``tsv``/``csv``  one example a row; ``columns`` by header name or 0-based index
``jsonl``      one JSON object a line; ``columns`` by key
``hf``         a saved ``Dataset``/``DatasetDict`` (``path``) or ``datasets.load_dataset`` on local
               files (``name`` + ``data_files``)
``sick`` ...   the built-in benchmarks under the data root: ``sick`` (Tai et al.'s preprocessing),
               ``sst`` (PTB trees), ``msrp``, ``paws`` (PAWS-Wiki: trained on its dev file), ``conll2003``
=============  ===============================================================================

:func:`read_source` returns the splits as datasets with one column per *role* (``text``,
``text_a``, ``text_b``, ``label``, ``score``; ``tokens``, ``tags`` for tagging): raw strings, PTB
strings or ready trees, as :attr:`Source.text` says. Without a ``dev`` file, a seeded
``dev_fraction`` of train is held out (and said). Keys that the chosen format does not read are
errors, never silently ignored.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

from datasets import Dataset
from pydantic import Field, field_validator, model_validator

from treelstm.errors import UserError
from treelstm.notes import note
from treelstm.schema import Section, changed_keys, config_path, resolve_path, unused_key

__all__ = ["DataConfig", "Source", "read_source", "hold_out"]

FILE_FORMATS = ("conll", "tsv", "csv", "jsonl")
_FILES = {"train", "dev", "test", "columns", "encoding", "dev_fraction", "split_seed"}
FORMAT_KEYS: dict[str, set[str]] = {
    "conll": _FILES,
    "tsv": _FILES | {"header", "quoting"},
    "csv": _FILES | {"header", "quoting"},
    "jsonl": _FILES,
    "hf": {"path", "name", "data_files", "columns", "dev_fraction", "split_seed"},
    "sick": set(),
    "sst": set(),
    "msrp": {"dev_fraction", "split_seed"},
    "paws": {"dev_fraction", "split_seed"},
    "conll2003": set(),
}
"""The keys each format reads, besides ``format``, ``max_train`` and the task's own keys."""


class DataConfig(Section):
    """The keys every task's ``data`` section has. A task's subclass sets :attr:`formats` (the ones it
    reads), :attr:`roles` (its columns) and may add keys, with :attr:`own_keys` saying which formats
    read them."""

    formats: ClassVar[tuple[str, ...]]
    roles: ClassVar[tuple[str, ...]]
    default_columns: ClassVar[dict[str, dict[str, int | str]]] = {}
    """Columns by format where the role names are not the default (e.g. conll: token 0, tag -1)."""
    own_keys: ClassVar[dict[str, tuple[str, ...] | None]] = {}
    """The subclass's keys and the formats that read each (None: every format)."""

    format: str
    """``conll``, ``tsv``, ``csv``, ``jsonl``, ``hf`` or a built-in benchmark (see the module)."""
    train: str | None = None
    dev: str | None = None
    """Without it, a seeded ``dev_fraction`` of train is held out as dev (and said)."""
    test: str | None = None
    """Optional: without it, runs report their dev metrics only."""
    path: str | None = None
    """hf: a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    name: str | None = None
    """hf: a ``datasets.load_dataset`` builder or local folder, e.g. ``csv`` or ``json`` (offline)."""
    data_files: str | list[str] | dict[str, str | list[str]] | None = None
    """hf with ``name``: the files, e.g. ``{train: a.csv, test: b.csv}``."""
    columns: dict[str, int | str] | None = None
    """Role -> column: an index (0-based, negative from the end) or a header name / JSON key."""
    header: bool | Literal["auto"] = "auto"
    """tsv/csv: whether the first row names the columns (auto: see :func:`treelstm.data.table.read_table`)."""
    quoting: Literal["auto", "csv", "none"] = "auto"
    """tsv/csv: ``csv`` quoting, or ``none`` (quote characters are text); auto: none for tsv, csv for csv."""
    encoding: str = "utf-8"
    """Any Python codec name, e.g. ``latin-1``."""
    dev_fraction: float = Field(0.1, gt=0, lt=1)
    split_seed: int = 0
    """The seed of the held-out dev split (not the training seed: every run holds out the same examples)."""
    max_train: int | None = Field(None, gt=0)
    """Use only the first N training examples (quick looks, tests)."""

    _paths = field_validator("train", "dev", "test", "path")(config_path)

    @field_validator("data_files")
    @classmethod
    def _data_files_beside_the_config(cls, value, info):
        """Each file (or glob pattern) found beside the config made absolute, as the other paths."""
        if isinstance(value, dict):
            return {split: cls._data_files_beside_the_config(files, info) for split, files in value.items()}
        if isinstance(value, list):
            return [cls._data_files_beside_the_config(files, info) for files in value]
        base = (info.context or {}).get("base")
        if not value or base is None or Path(value).is_absolute() or not any(Path(base).glob(value)):
            return value
        return str(Path(base).resolve() / value)

    @field_validator("format")
    @classmethod
    def _a_format_of_the_task(cls, value: str) -> str:
        if value not in cls.formats:
            raise UserError(f"{value!r} is not a format of this task; it reads {', '.join(cls.formats)}")
        return value

    @model_validator(mode="after")
    def _every_key_takes_effect(self):
        reads = FORMAT_KEYS[self.format] | {"format", "max_train"}
        reads |= {key for key, formats in self.own_keys.items() if formats is None or self.format in formats}
        for key in sorted(changed_keys(self) - reads):
            raise unused_key(key, f"format {self.format} does not read it (it reads {', '.join(sorted(reads))})")
        if self.format in FILE_FORMATS and self.train is None:
            raise unused_key("train", f"format {self.format} needs a train file")
        if self.format == "hf" and (self.path is None) == (self.name is None):
            raise unused_key("path", "format hf takes a saved dataset's folder (path) or a builder (name), one of them")
        if self.data_files is not None and self.name is None:
            raise unused_key("data_files", "goes with data.name")
        for role in self.columns or {}:
            if role not in self.roles:
                raise unused_key(f"columns.{role}",
                                 f"not a column role of this task (its roles: {', '.join(self.roles)})")
        return self

    def column_map(self) -> dict[str, int | str]:
        """Every role's column: the given ones, else the format's default, else the role's own name."""
        defaults = self.default_columns.get(self.format, {})
        return {role: (self.columns or {}).get(role, defaults.get(role, role)) for role in self.roles}


@dataclass
class Source:
    """What :func:`read_source` read.

    Attributes:
        splits: dataset per split name, one column per role.
        text: what a text role's values are: ``raw`` text, ``ptb`` trees (brackets) or ``trees``
            already built (columns ``ROLE_parents``, ``ROLE_slots``, ``ROLE_tokens``).
        scheme: tagging: the tag scheme of the files (detected or declared).
        labels: the order of the labels, where the source knows it (SST's, from very negative to very positive).
        score_range: the scale of the scores, where the source knows it (SICK's 1 to 5).
    """

    splits: dict[str, Dataset]
    text: str = "raw"
    scheme: str | None = None
    labels: tuple[str, ...] | None = None
    score_range: tuple[float, float] | None = None


def hold_out(train: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded ``fraction`` of ``train`` as dev: ``(rest, dev)``, each in file order."""
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    held = set(order[: round(len(train) * fraction)])
    return (train.select([k for k in range(len(train)) if k not in held]),
            train.select([k for k in range(len(train)) if k in held]))


def read_source(data: DataConfig, data_root: Path | None, splits: Sequence[str] | None = None,
                tree: str | None = None) -> Source:
    """The splits ``data`` names: train, dev and test when there is one (default), or ``splits``.
    ``tree``: the structure text tasks will read (built-in SICK reads its parses directly)."""
    reader = _BENCHMARKS.get(data.format, _read_files if data.format in FILE_FORMATS else _read_hf)
    source = reader(data, data_root, tree, splits or ())
    wanted = splits or [name for name in ("train", "dev", "test") if name in source.splits or name != "test"]
    for name in wanted:
        if name not in source.splits:
            names = sorted(source.splits, key=lambda n: (["train", "dev", "test"] + [n]).index(n))
            raise UserError(f"data: there is no {name!r} split (there are: {', '.join(names)})")
    source.splits = {name: source.splits[name] for name in wanted}
    return source


def _with_dev(data: DataConfig, splits: dict[str, Dataset], what: str, labels: bool = True) -> dict[str, Dataset]:
    """``splits`` with a held-out dev when there is none. ``labels``: a label (or entity type) that only the
    held-out examples have is an error saying so (PTB texts: off, their phrases may have it)."""
    if "dev" in splits:
        return splits
    if "train" not in splits:
        raise UserError(f"{what}: no train split (it has {', '.join(splits) or 'none'})")
    train, dev = hold_out(splits["train"], data.dev_fraction, data.split_seed)
    settings = f"data.dev_fraction {data.dev_fraction}, data.split_seed {data.split_seed}"
    note(f"{what}: no dev split given; holding out {len(dev):,} of the {len(splits['train']):,} training examples "
         f"as dev ({settings})")
    kind, kept = _classes(train, labels)
    only_held = _classes(dev, labels)[1] - kept
    if only_held:
        raise UserError(f"{what}: the {kind} {min(only_held, key=str)!r} is only in the training examples held out "
                         f"as dev ({settings}); give a dev file, more examples of it, or another data.split_seed")
    return {**splits, "train": train, "dev": dev}


def _classes(split: Dataset, labels: bool) -> tuple[str, set]:
    """The labels of a split (``label`` column), or the entity types of its tags (``tags``/``tag``); else none."""
    if "label" in split.column_names and labels:
        return "label", set(split["label"])
    for column in ("tags", "tag"):
        if column in split.column_names:
            return "entity type", {tag[2:] for tags in split[column] for tag in tags if tag[1:2] == "-"}
    return "label", set()


def _read_files(data: DataConfig, data_root: Path | None, tree: str | None, wanted=()) -> Source:
    from treelstm.data.conll import read_conll_columns
    from treelstm.data.table import read_table

    columns = data.column_map()
    splits = {}
    for name in ("train", "dev", "test"):
        value = getattr(data, name)
        if value is None:
            continue
        path = resolve_path(value, f"data.{name}", data_root)
        if data.format == "conll":
            splits[name] = read_conll_columns(path, token=columns["token"], tag=columns["tag"],
                                              encoding=data.encoding, what=f"data.{name}")
        else:
            splits[name] = read_table(path, format=data.format, columns=columns, header=data.header,
                                      quoting=data.quoting, encoding=data.encoding,
                                      numeric=["score"] * ("score" in columns),
                                      what=f"data.{name}")
    text = "ptb" if tree == "constituency" else "raw"
    return _tagged(Source(_with_dev(data, splits, "data", text != "ptb"), text), data)


def _read_hf(data: DataConfig, data_root: Path | None, tree: str | None, wanted=()) -> Source:
    from treelstm.data.hf import read_hf

    path = None if data.path is None else str(resolve_path(data.path, "data.path", data_root))
    splits = read_hf(path=path, name=data.name, data_files=data.data_files, columns=data.column_map(), what="data")
    text = "ptb" if tree == "constituency" else "raw"
    return _tagged(Source(_with_dev(data, splits, "data", text != "ptb"), text), data)


def _tagged(source: Source, data: DataConfig) -> Source:
    """Tagging sources: rename the token/tag roles to ``tokens``/``tags``, the scheme declared or detected."""
    if "token" not in data.roles:
        return source
    from treelstm.text.tags import detect_scheme

    source.splits = {name: split.rename_columns({"token": "tokens", "tag": "tags"}) if "token" in split.column_names
                     else split for name, split in source.splits.items()}
    declared = getattr(data, "tag_scheme", "auto")
    source.scheme = detect_scheme(source.splits["train"]["tags"]) if declared == "auto" else declared
    if declared == "auto":
        note(f"data: the training file's tags read as {source.scheme.upper()} (set data.tag_scheme to say otherwise)")
    return source


def _root(data_root: Path | None, what: str) -> Path:
    if data_root is None:
        raise UserError(f"data.format {what} reads the benchmark from the data root: pass --data-dir or set "
                         "TREELSTM_DATA")
    return Path(data_root)


def _read_sick(data: DataConfig, data_root: Path | None, tree: str | None, wanted=()) -> Source:
    """SICK relatedness with Tai et al.'s parses: the trees as they are (dependency, binary constituency)
    or chains over the tokens."""
    from treelstm.data.sick import read_sick

    key = {"dependency": "dep", "constituency": "con"}.get(tree)
    splits = {}
    for name in ("train", "dev", "test"):
        ds = read_sick(_root(data_root, "sick"), name)
        columns: dict[str, Any] = {"score": ds["score"]}
        for side, role in (("a", "text_a"), ("b", "text_b")):
            tokens = ds[f"{side}_tokens"]
            columns[f"{role}_tokens"] = tokens
            if key is None:  # chains: node k is token k, its parent k + 1
                columns[f"{role}_parents"] = [[*range(1, len(t)), -1] for t in tokens]
                columns[f"{role}_slots"] = [[0] * len(t) for t in tokens]
                continue
            columns[f"{role}_parents"] = ds[f"{side}_{key}_parents"]
            columns[f"{role}_slots"] = ds[f"{side}_{key}_slots"]
            if key == "con":  # leaves first: the internal nodes have no word
                columns[f"{role}_tokens"] = [[*t, *[None] * (len(p) - len(t))]
                                             for t, p in zip(tokens, columns[f"{role}_parents"])]
        splits[name] = Dataset.from_dict(columns)
    return Source(splits, "trees", score_range=(1.0, 5.0))


_SST_FINE = {"0": "very_negative", "1": "negative", "2": "neutral", "3": "positive", "4": "very_positive"}
_SST_BINARY = {"0": "negative", "1": "negative", "2": "neutral", "3": "positive", "4": "positive"}
_PTB_LABEL = re.compile(r"\(([0-4]) ")


def _read_sst(data: DataConfig, data_root: Path | None, tree: str | None, wanted=()) -> Source:
    """SST's PTB trees, every node labelled very_negative, negative, neutral, positive or very_positive
    (0-4 in the files); binary (``data.subtask: binary``): negative (0-1), neutral (2), positive (3-4),
    and the sentences with a neutral root left out."""
    from treelstm.data.sst import read_sst

    binary = getattr(data, "subtask", "fine") == "binary"
    names = _SST_BINARY if binary else _SST_FINE
    splits = {}
    for name in ("train", "dev", "test"):
        path = _root(data_root, "sst") / "sst" / "trees" / f"{name}.txt"
        ds = read_sst(_root(data_root, "sst"), name).select_columns(["ptb", "label", "line"]).to_dict()
        keep = [k for k, label in enumerate(ds["label"]) if not (binary and label == 2)]
        splits[name] = Dataset.from_dict({
            "text": [_PTB_LABEL.sub(lambda m: f"({names[m.group(1)]} ", ds["ptb"][k]) for k in keep],
            "label": [names[str(ds["label"][k])] for k in keep],
            "where": [f"{path}:{ds['line'][k]}" for k in keep]})
    return Source(splits, "ptb", labels=tuple(dict.fromkeys(names.values())))


def _read_pairs(files: dict, what: str):
    """A reader of a built-in pair benchmark from its ``files`` (split name -> a reader of that split;
    the ones besides train and test only when asked for)."""
    def read(data: DataConfig, data_root: Path | None, tree: str | None, wanted=()) -> Source:
        root = _root(data_root, what)
        splits = {name: _paraphrase_roles(read_split(root)) for name, read_split in files.items()
                  if name in ("train", "test") or name in wanted}
        source = Source(_with_dev(data, splits, what), "raw", labels=_PARAPHRASE)
        source.splits |= {name: None for name in files if name not in source.splits}  # named in errors, not read
        return source

    return read


_PARAPHRASE = ("not_paraphrase", "paraphrase")


def _paraphrase_roles(ds: Dataset) -> Dataset:
    """MSRP / PAWS columns as roles, the labels 0 and 1 named."""
    return Dataset.from_dict({"text_a": ds["sentence1"], "text_b": ds["sentence2"],
                              "label": [_PARAPHRASE[label] for label in ds["label"]]})


def _msrp(split: str, paws: bool = False):
    from treelstm.data.pairs import read_msrp, read_paws

    return lambda root: (read_paws if paws else read_msrp)(root, split)


def _read_conll2003(data: DataConfig, data_root: Path | None, tree: str | None, wanted=()) -> Source:
    from treelstm.data.conll import read_conll2003

    splits = {name: read_conll2003(_root(data_root, "conll2003"), name).select_columns(["tokens", "tags"])
              for name in ("train", "dev", "test")}
    return Source(splits, scheme="iob1")


_BENCHMARKS = {
    "sick": _read_sick,
    "sst": _read_sst,
    "msrp": _read_pairs({"train": _msrp("train"), "test": _msrp("test"), "paws-dev": _msrp("dev", paws=True),
                         "paws-test": _msrp("test", paws=True)}, "msrp"),
    "paws": _read_pairs({"train": _msrp("dev", paws=True), "test": _msrp("test", paws=True)}, "paws"),
    "conll2003": _read_conll2003,
}
