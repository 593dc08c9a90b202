"""The one place that imports DGL.

DGL 2.1.0 (the newest Linux build on PyPI) imports ``dgl.graphbolt`` eagerly, and that
sub-package loads a C++ library built only for torch 2.0-2.2.1. Under a newer torch the
import fails, although everything this library uses (DGLGraph, ``dgl.batch``,
traversal, message passing, autograd) works. So, when the GraphBolt library for the
running torch is missing, an empty module is registered as ``dgl.graphbolt`` before
``import dgl``. ``dgl.sparse``, ``dgl.graphbolt`` and ``dgl.distributed`` are unusable
then; nothing here needs them.

Every other module takes dgl from here: ``from treelstm._dgl import dgl``.
"""

import importlib.util
import os
import sys
import types

import torch


def _graphbolt_library_present() -> bool:
    spec = importlib.util.find_spec("dgl")
    if spec is None or not spec.submodule_search_locations:
        return True  # let the real import raise its own "No module named 'dgl'"
    version = torch.__version__.split("+", maxsplit=1)[0]
    folder = os.path.join(spec.submodule_search_locations[0], "graphbolt")
    return os.path.exists(os.path.join(folder, f"libgraphbolt_pytorch_{version}.so"))


if "dgl" not in sys.modules and not _graphbolt_library_present():
    sys.modules["dgl.graphbolt"] = types.ModuleType(
        "dgl.graphbolt", "Stub registered by treelstm._dgl: GraphBolt is unavailable for this torch."
    )

import dgl  # noqa: E402

__all__ = ["dgl", "runs_on"]


def runs_on(device: torch.device) -> bool:
    """Whether the installed DGL can hold graphs on ``device``: always the CPU; a CUDA device only with
    a DGL built with CUDA (PyPI's is CPU-only) on a machine that has that GPU."""
    if device.type == "cpu":
        return True
    return device.type == "cuda" and bool(dgl.ndarray.gpu(device.index or 0).exist)
