"""The installed tasks: the ``treelstm.tasks`` entry-point group, by name.

Tasks are plug-ins (:mod:`treelstm.runner.task`): a class registered under a name in
``[project.entry-points."treelstm.tasks"]``; this module finds them without importing any.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from treelstm.errors import UserError

__all__ = ["task_class", "task_names"]

RENAMED = {"relatedness": "pair-regression", "paraphrase": "pair-classification", "sentiment": "classification"}
"""Task names of treelstm 0.1 and the task kind each became."""


@cache
def _registry() -> dict:
    return {ep.name: ep for ep in entry_points(group="treelstm.tasks")}


def task_names() -> list[str]:
    """The names of the installed tasks."""
    return sorted(_registry())


def task_class(name: Any) -> type:
    """The task class registered under ``name``; a ValueError listing the known ones otherwise."""
    found = _registry()
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        renamed = f"; {name!r} is now {RENAMED[name]!r}" if name in RENAMED else ""
        raise UserError(f"{name!r} is not a known task (known tasks: {known}){renamed}")
    return found[name].load()
