"""The building blocks of config schemas: a section that rejects unknown keys, the error for a key that
would not take effect, and config file paths. The runner's :mod:`~treelstm.runner.config` and the data
layer's :mod:`~treelstm.data.sources` build their schemas from them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo
from pydantic_core import PydanticCustomError

from treelstm.errors import ConfigError

__all__ = ["ConfigError", "Section", "unused_key", "changed_keys", "config_path", "resolve_path"]


class Section(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def unused_key(key: str, why: str) -> PydanticCustomError:
    """The error for a key that is valid in general but would not take effect here (``why`` says why)."""
    return PydanticCustomError("unused_key", "{key}: {why}", {"key": key, "why": why})


def changed_keys(section: BaseModel) -> set[str]:
    """The keys of ``section`` given a value other than their default (a saved config gives every key,
    most at their defaults)."""
    return {key for key in section.model_fields_set
            if getattr(section, key) != type(section).model_fields[key].get_default(call_default_factory=True)}


def config_path(value: str | None, info: ValidationInfo) -> str | None:
    """A file path key's value made absolute when it names a file beside the config (the validation
    context's ``base``); other relative paths stay relative and are looked up under the data root."""
    base = (info.context or {}).get("base")
    if value is None or base is None or Path(value).is_absolute():
        return value
    beside = Path(base) / Path(value).expanduser()
    return str(beside.resolve()) if beside.exists() else value


def resolve_path(value: str, key: str, data_root: Path | None, under: str = "") -> Path:
    """A config's file path: absolute (or made so beside the config, see :func:`config_path`), else
    under ``data_root / under``. A path found nowhere is a FileNotFoundError naming the key and the places."""
    path = Path(value).expanduser()
    if path.is_absolute():
        if not path.exists():
            raise FileNotFoundError(f"{key}: no file or folder {path}")
        return path
    places = [Path(data_root) / under / path] if data_root is not None else []
    for place in places:
        if place.exists():
            return place
    looked = "the config's folder" + "".join(f" or {p.parent}" for p in places)
    hint = "" if places else " (no data root: pass --data-dir or set TREELSTM_DATA)"
    raise FileNotFoundError(f"{key}: {value} is not in {looked}{hint}")
