"""Argument checks at the public calls, on metadata only (type, shape, dtype, device: no host syncs).

Every message reads ``<Owner>: <argument> must be <expected>, got <actual>``: a TypeError when the
argument is not a tensor (or not a graph) at all, a ValueError for a tensor of the wrong shape,
dtype or device. Only what differs is reported after ``got``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from treelstm._dgl import dgl
from treelstm.trees.schedule import LevelSchedule

__all__ = ["type_name", "check_tensor", "check_graph", "check_schedule", "parameter_of"]

# (label, size): a dimension reads "label=size", or "label" alone when any size is accepted
Dims = Sequence[tuple[str, "int | None"]]


def type_name(value: object) -> str:
    """``numpy.ndarray``, ``Tree``, ``list``: a value's type as a message names it."""
    kind = type(value)
    module = kind.__module__.split(".")[0]
    return kind.__qualname__ if module in ("builtins", "treelstm", "torch", "dgl") else f"{module}.{kind.__qualname__}"


def parameter_of(module: object) -> Tensor | None:
    """A module's first parameter (its dtype and device are the ones inputs must have), if any."""
    if isinstance(module, nn.Module):
        return next(iter(module.parameters()), None)
    return None


def _dims(dims: Dims) -> str:
    parts = [label if size is None else f"{label}={size}" for label, size in dims]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_tensor(
    owner: str,
    name: str,
    value: object,
    dims: Dims,
    like: Tensor | None = None,
    *,
    dtype: torch.dtype | str | None = None,
) -> None:
    """Raise unless ``value`` is a tensor of shape ``dims`` with ``like``'s dtype and device.

    Args:
        owner: who checks, e.g. ``"TreeLSTM"``.
        name: the argument, e.g. ``"x"``.
        dims: the expected dimensions, ``(label, size or None)`` each.
        like: a parameter: the tensor must have its dtype (unless autocast is on for the device,
            which then chooses the dtypes) and its device.
        dtype: instead of ``like``'s dtype: a dtype, or ``"integer"`` for any integer dtype.
    """
    want_dtype: torch.dtype | str | None = dtype if dtype is not None else (like.dtype if like is not None else None)
    device = like.device if like is not None else None

    def expected() -> str:  # formatted only for a message
        kind = "" if want_dtype is None else want_dtype if isinstance(want_dtype, str) else _dtype(want_dtype)
        text = f"{'an' if kind[:1] in ('i', 'u') else 'a'} {kind + ' ' if kind else ''}tensor of shape {_dims(dims)}"
        return text + (f" on device {device}" if device is not None else "")

    if not isinstance(value, Tensor):
        hint = " (convert it with torch.as_tensor)" if type(value).__module__.startswith("numpy") else ""
        raise TypeError(f"{owner}: {name} must be {expected()}, got {type_name(value)}{hint}")
    got = []
    if value.dim() != len(dims) or any(size is not None and value.shape[k] != size for k, (_, size) in enumerate(dims)):
        got.append(f"shape {tuple(value.shape)}")
    if want_dtype == "integer":
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
            got.append(f"dtype {_dtype(value.dtype)}")
    elif isinstance(want_dtype, torch.dtype) and value.dtype != want_dtype and not _autocast(value, dtype is None):
        got.append(f"dtype {_dtype(value.dtype)}")
    if device is not None and value.device != device:
        got.append(f"device {value.device}")
    if got:
        raise ValueError(f"{owner}: {name} must be {expected()}, got {', '.join(got)}")


def _autocast(value: Tensor, from_parameters: bool) -> bool:
    """Whether autocast runs on the tensor's device (then it casts inputs to the parameters' ops)."""
    if not from_parameters or value.device.type not in ("cpu", "cuda", "xpu", "mps"):
        return False
    return torch.is_autocast_enabled(value.device.type)


def check_graph(owner: str, graph: object) -> None:
    """Raise TypeError unless ``graph`` is a DGLGraph (a plain-data Tree is named as such)."""
    if isinstance(graph, dgl.DGLGraph):
        return
    tree = type(graph).__name__ == "Tree"
    hint = " (plain data: use treelstm.trees.batch([tree, ...]) or tree.graph)" if tree else ""
    raise TypeError(
        f"{owner}: graph must be a DGLGraph (e.g. treelstm.trees.batch(trees)), got {type_name(graph)}{hint}"
    )


def check_schedule(owner: str, schedule: object, graph: dgl.DGLGraph) -> None:
    """Raise unless ``schedule`` is None or a LevelSchedule of a graph with ``graph``'s node count."""
    if schedule is None:
        return
    if not isinstance(schedule, LevelSchedule):
        raise TypeError(f"{owner}: schedule must be the graph's LevelSchedule or None, got {type_name(schedule)}")
    if schedule.num_nodes != graph.num_nodes():
        raise ValueError(
            f"{owner}: schedule must be the graph's LevelSchedule (num_nodes={graph.num_nodes()}), "
            f"got a schedule of {schedule.num_nodes} nodes"
        )
