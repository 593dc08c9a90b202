"""Hugging Face datasets the user already has: a folder saved with ``save_to_disk``, or local files.

:func:`read_hf` returns ``{split: datasets.Dataset}`` with the split names of the other readers
(``validation``/``valid`` -> ``dev``), optionally keeping only some columns renamed to their roles;
labels come back as text (a ``ClassLabel``'s names), a ``score`` as float. Nothing is downloaded:
``data.name`` is run with the Hub offline, so a Hub name works only if the dataset already sits in
the local datasets cache.

Example:
    >>> import datasets
    >>> saved = datasets.Dataset.from_dict(
    ...     {"sentence": ["a fine film", "dull"], "label": [1, 0], "idx": [0, 1]},
    ...     features=datasets.Features({"sentence": datasets.Value("string"),
    ...                                 "label": datasets.ClassLabel(names=["negative", "positive"]),
    ...                                 "idx": datasets.Value("int32")}))
    >>> saved.save_to_disk("sst2-saved")  # doctest: +SKIP
    >>> splits = read_hf(path="sst2-saved", columns={"text": "sentence", "label": "label"})  # doctest: +SKIP
    >>> splits["train"][0]  # doctest: +SKIP
    {'text': 'a fine film', 'label': 'positive'}
    >>> read_hf(name="csv", data_files={"train": "train.csv", "validation": "dev.csv"})  # doctest: +SKIP
    {'train': Dataset(...), 'dev': Dataset(...)}
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import datasets

from treelstm.errors import UserError

__all__ = ["read_hf"]

DEV_NAMES = ("validation", "valid", "dev")
LOCAL_BUILDERS = ("csv", "json", "parquet", "text")


def read_hf(
    *,
    path: str | os.PathLike | None = None,
    name: str | None = None,
    data_files=None,
    columns: dict[str, str] | None = None,
    what: str = "data",
) -> dict[str, datasets.Dataset]:
    """Read a dataset that is already on this machine; never downloads.

    Args:
        path: a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``.
        name: instead of ``path``, what ``datasets.load_dataset`` takes: a packaged builder
            (``csv``, ``json``, ``parquet``, ``text``) with ``data_files``, or a local folder of
            data files. It runs with the Hub offline (``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE``
            on for the call), so a Hub name is found only in the local datasets cache.
        data_files: ``data_files`` for ``load_dataset`` (a file, a list, or ``{split: files}``).
        columns: role -> column name, e.g. ``{"text": "sentence", "label": "label"}``: only these
            columns are kept, renamed to their roles (in this order). ``ClassLabel`` columns (and
            lists of them) become their label names (``-1``, "no label", becomes None); other
            values of a ``label`` role become str; a ``score`` role becomes float.
        what: the name used in error messages for the data being read.

    Returns:
        ``{split: Dataset}``: a single saved Dataset as ``{"train": ds}``; a DatasetDict's splits
        by name, ``validation``/``valid``/``dev`` as ``dev``, other names (train, test) as they are.

    Raises:
        FileNotFoundError: ``path`` does not exist, or ``data_files`` are missing.
        ValueError: one line: both or neither of ``path`` and ``name``; a folder that is not a
            saved dataset; a name that is neither local nor cached; a missing column; a score
            that is not a number.
    """
    if (path is None) == (name is None):
        raise UserError(f"{what}: give one of data.path (a folder written by save_to_disk) "
                         f"or data.name (a local builder such as csv or json, with data.data_files), not "
                         f"{'both' if path is not None else 'neither'}")
    loaded = _load_saved(Path(path)) if path is not None else _load_offline(name, data_files)
    if isinstance(loaded, datasets.Dataset):
        splits = {"train": loaded}
    else:
        splits = {"dev" if split in DEV_NAMES else split: ds for split, ds in loaded.items()}
    if columns is not None:
        splits = {split: _keep_columns(ds, columns, split, what) for split, ds in splits.items()}
    return splits


def _load_saved(path: Path) -> datasets.Dataset | datasets.DatasetDict:
    """``datasets.load_from_disk(path)``, its failures as one-line errors."""
    if not path.exists():
        raise FileNotFoundError(f"data.path: no such folder {path}")
    not_saved = f"data.path: {path} is not a folder written by Dataset.save_to_disk or DatasetDict.save_to_disk"
    if not path.is_dir():
        raise UserError(f"{not_saved} (a file, not a folder)")
    if not any((path / marker).is_file() for marker in ("state.json", "dataset_dict.json")):
        raise UserError(f"{not_saved} (no state.json or dataset_dict.json in it)")
    try:
        return datasets.load_from_disk(str(path))
    except Exception as error:  # a damaged save: say what broke, on one line
        raise UserError(f"{not_saved} ({type(error).__name__}: {_first_line(error)})") from None


def _load_offline(name: str, data_files) -> datasets.DatasetDict:
    """``datasets.load_dataset(name, data_files=...)`` with the Hub offline, failures as one-line errors."""
    local = _is_packaged(name) or os.path.isdir(name)
    try:
        with _offline():
            return datasets.load_dataset(name, data_files=data_files)
    except ConnectionError as error:  # datasets' offline refusal (OfflineModeIsEnabled is one too)
        if local:
            raise UserError(f"data.data_files: {_first_line(error)} (offline: only local files are read)") from None
        raise UserError(_not_local(name)) from None
    except FileNotFoundError as error:
        if not local:
            raise UserError(_not_local(name)) from None
        raise FileNotFoundError(f"data.data_files: {_first_line(error)}") from None
    except (datasets.exceptions.DatasetsError, ValueError, RuntimeError) as error:
        cause = error.__cause__ or error  # DatasetGenerationError wraps the parser's error
        raise UserError(f"data.name {name!r}: could not load it ({_first_line(cause)})") from None


def _not_local(name: str) -> str:
    return (f"data.name: {name!r} is not a local dataset builder ({', '.join(LOCAL_BUILDERS)}) or folder, "
            f"nor a Hub dataset already in the datasets cache, and datasets are not downloaded here (offline); "
            f"save it with save_to_disk and give data.path, or give data.name: csv/json with data.data_files")


def _is_packaged(name: str) -> bool:
    from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

    return name in _PACKAGED_DATASETS_MODULES


@contextmanager
def _offline():
    """Hub access off for the block: the environment variables, and the flags that ``datasets`` and
    ``huggingface_hub`` read from them at import time; all restored afterwards."""
    import huggingface_hub.constants as hub

    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    saved_env = {key: os.environ.get(key) for key in names}
    saved_flags = (hub.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE)
    os.environ.update(dict.fromkeys(names, "1"))
    hub.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE, datasets.config.HF_DATASETS_OFFLINE = saved_flags
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _keep_columns(ds: datasets.Dataset, columns: dict[str, str], split: str, what: str) -> datasets.Dataset:
    """Only ``columns`` (role -> column), renamed to the roles; labels as text, a score as float."""
    for role, column in columns.items():
        if column not in ds.column_names:
            raise UserError(f"{what} split {split!r}: no column {column!r} ({role}); "
                             f"it has: {', '.join(ds.column_names)}")
    converted = {}
    for role, column in columns.items():
        feature = ds.features[column]
        names = _class_names(feature)
        values = None
        if names is not None:
            values = [_names(value, names) for value in ds.data.column(column).to_pylist()]
        elif role == "score":
            values = [_number(value, split, column, what) for value in ds.data.column(column).to_pylist()]
        elif role == "label" and not _is_string(feature):
            values = [_text(value) for value in ds.data.column(column).to_pylist()]
        if values is not None:
            converted[role] = (values, _feature(role, feature))
    # The kept columns by reference (saved arrow files stay memory-mapped), renamed; then the converted
    # ones and any second role of a column, added in memory: no cache file is written anywhere.
    renamed, copies = {}, {}  # column -> role; role -> column (a column given a second role)
    for role, column in columns.items():
        if role in converted:
            continue
        if column in renamed:
            copies[role] = column
        else:
            renamed[column] = role
    out = ds.select_columns(list(renamed)).rename_columns({c: r for c, r in renamed.items() if c != r})
    for role, column in copies.items():
        out = out.add_column(role, ds.data.column(column).to_pylist(), feature=ds.features[column])
    for role, (values, feature) in converted.items():
        out = out.add_column(role, values, feature=feature)
    return out.select_columns(list(columns))


def _class_names(feature) -> list[str] | None:
    """The label names of a ClassLabel, or of a list of ClassLabels; else None."""
    if isinstance(feature, datasets.ClassLabel):
        return feature.names
    inner = getattr(feature, "feature", None)  # List / Sequence / LargeList
    if isinstance(inner, datasets.ClassLabel):
        return inner.names
    return None


def _names(value, names: list[str]):
    """A ClassLabel id (or list of ids) as its name(s); -1 (no label) and None as None."""
    if isinstance(value, list):
        return [_names(v, names) for v in value]
    return None if value is None or value < 0 else names[value]


def _text(value):
    if isinstance(value, list):
        return [_text(v) for v in value]
    return None if value is None else str(value)


def _number(value, split: str, column: str, what: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} split {split!r}: column {column!r} (score) holds {value!r}, "
                         f"expected a number") from None


def _is_string(feature) -> bool:
    return isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")


def _feature(role: str, original):
    """The feature of a converted column: float64 for a score, else str (a list of str for lists)."""
    if role == "score":
        return datasets.Value("float64")
    if isinstance(original, datasets.ClassLabel) or isinstance(original, datasets.Value):
        return datasets.Value("string")
    return datasets.List(datasets.Value("string"))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
