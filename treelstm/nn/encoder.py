"""TreeLSTM: run a cell over a batch of trees, level by level, in one pass.

Two propagation modes give the same numbers:

* ``"fast"`` (default): the input projection ``W x + b`` of every node in one matrix
  multiply, then one cell call per level of the :class:`~treelstm.trees.schedule.LevelSchedule`,
  driven by torch index operations on whatever device ``x`` is on. States live in
  level-ordered buffers, so each level writes a contiguous block.
* ``"dgl"``: DGL's own message passing, ``dgl.prop_nodes`` over the topological frontiers
  with message and reduce functions (how DGL's Tree-LSTM example runs). The reference
  the fast mode is tested against; on the CPU, or on a GPU with a DGL built with CUDA (PyPI's
  DGL is CPU-only), where the graph is copied to ``x``'s device at each call.

In the fast mode, the three LSTM cells' level loop runs by default as one autograd Function
with a hand-written backward (:mod:`treelstm.nn.fused_levels`); ``fused=False`` asks for autograd
through the cells instead, which double backward (second derivatives) needs.
"""

from __future__ import annotations

from typing import NamedTuple, cast

import torch
from torch import Tensor, nn

from treelstm._dgl import dgl, runs_on
from treelstm.nn import fused_levels
from treelstm.nn._checks import check_graph, check_schedule, check_tensor, parameter_of, type_name
from treelstm.nn.cells import Gates, TreeCell, TreeCellProtocol
from treelstm.trees.schedule import LevelSchedule, sibling_ranks

__all__ = ["TreeLSTM", "TreeLSTMOutput", "run_levels"]


class TreeLSTMOutput(NamedTuple):
    """What :class:`TreeLSTM` returns, always: every node's states and, if asked for, its gates.

    Attributes:
        h: ``(N, H)`` every node's hidden state, in node-id order.
        c: ``(N, H)`` every node's memory, or ``None`` for a cell with one state (the GRU).
        gates: ``{name: (N, H)}`` with ``return_gates=True``, else ``None``.

    Read it by name (``out.h``) or unpack all three fields: ``h, c, gates = encoder(graph, x)``.
    """

    h: Tensor
    c: Tensor | None
    gates: Gates | None = None


def run_levels(
    cell: TreeCellProtocol,
    x: Tensor,
    schedule: LevelSchedule,
    return_gates: bool = False,
    x_nodes: Tensor | None = None,
    fused: bool | None = None,
    x_at_leaves: bool | None = None,
) -> tuple[tuple[Tensor, ...], Gates]:
    """Compute every node's states with ``cell``, level by level (the fast mode).

    Args:
        cell: a :class:`~treelstm.nn.cells.TreeCell`, or any :class:`~treelstm.nn.cells.TreeCellProtocol`.
        x: ``(N, input_size)``, node inputs in node-id order, on any device; or, with
            ``x_nodes``, ``(M, input_size)``, the inputs of those ``M`` nodes only.
        schedule: the batch's level schedule (moved to ``x.device`` here, once).
        return_gates: also collect the gate activations.
        x_nodes: ``(M,)`` int64, the nodes that have an input; the others have none
            (their ``W x + b`` is ``b``), so only ``M`` rows are projected.
        fused: the hand-written backward of :mod:`treelstm.nn.fused_levels`: ``None`` where
            it applies (an LSTM cell, no gates), ``True`` required (ValueError if it cannot),
            ``False`` never (autograd through the cells).
        x_at_leaves: whether every node of ``x_nodes`` is a leaf, as the caller knows it (see
            :class:`TreeLSTM`); ``None``: found out from ``x_nodes`` if it is on the CPU.

    Returns:
        The states (one ``(N, H)`` tensor per ``cell.state_names``) and the gates
        (``{}`` unless asked for), both in node-id order.
    """
    s = schedule.to(x.device)
    fuse = _fuse(cell, fused, return_gates)
    if x_nodes is None:
        wx = cell.project(x.index_select(0, s.order))  # every node's W x + b, level order
    elif fuse and (leaf_wx := fused_levels.project_leaves(cast(TreeCell, cell), x, x_nodes, schedule, x_at_leaves)) is not None:
        wx = leaf_wx  # inputs at leaves only: the N-ary leaves project with the node gates' rows
    else:
        rows = s.position.index_select(0, x_nodes.to(x.device))
        bias = cell.b if isinstance(cell, TreeCell) else cell.project(x.new_zeros(1, x.shape[1]))[0]
        projected = cell.project(x)  # in the autocast dtype under autocast
        wx = bias.to(projected.dtype).expand(s.num_nodes, -1).contiguous().index_copy_(0, rows, projected)
    if fuse:
        fused_states = fused_levels.run_fused(cast(TreeCell, cell), wx, s)  # _fuse checked the cell's class
        return tuple(state.index_select(0, s.position) for state in fused_states), {}
    n, H = wx.shape[0], cell.hidden_size
    states = [wx.new_zeros(n, H) for _ in cell.state_names]
    gates: dict[str, list[Tensor]] = {}
    for level in range(s.num_levels):
        a, b = s.offsets[level], s.offsets[level + 1]
        ea, eb = s.edge_offsets[level], s.edge_offsets[level + 1]
        child = s.child[ea:eb]
        new, level_gates = cell(
            wx[a:b], tuple(state.index_select(0, child) for state in states), s.parent[ea:eb], s.slot[ea:eb], return_gates
        )
        for state, value in zip(states, new):
            state[a:b] = value
        for name, value in (level_gates or {}).items():
            gates.setdefault(name, []).append(value)
    by_node = {name: torch.cat(values) for name, values in gates.items()}
    if cell.per_child_gate in by_node:  # edge order -> the child's row
        by_node[cell.per_child_gate] = wx.new_zeros(n, H).index_copy(0, s.child, by_node[cell.per_child_gate])
    return (
        tuple(state.index_select(0, s.position) for state in states),
        {name: value.index_select(0, s.position) for name, value in by_node.items()},
    )


class TreeLSTM(nn.Module):
    r"""Runs a Tree-LSTM (or Tree-GRU) cell over a batch of trees.

    .. code:: python

        out = TreeLSTM(cell)(graph, x)                      # out.h, out.c; out.gates is None
        h, c, gates = TreeLSTM(cell)(graph, x, return_gates=True)

    It always returns a :class:`TreeLSTMOutput` ``(h, c, gates)``: every node's states, in
    node-id order. This differs from :class:`~treelstm.nn.chain.ChainLSTM`, which follows
    ``torch.nn.LSTM`` and returns ``output, (h_n, c_n)`` (the last layer's states at every
    token, and each chain's final states per layer and direction): a tree encoder has one
    layer and direction, and the "final" states are the roots' rows, ``out.h[roots]``.

    Args:
        cell: a :class:`~treelstm.nn.cells.ChildSumTreeLSTMCell`, :class:`~treelstm.nn.cells.NaryTreeLSTMCell`,
            :class:`~treelstm.nn.cells.ChildSumTreeGRUCell`, any :class:`~treelstm.nn.cells.TreeCell`, or
            any object with the :class:`~treelstm.nn.cells.TreeCellProtocol` interface.
        mode: ``"fast"`` or ``"dgl"`` (see the module docstring); an attribute, so it can be switched.
        fused: for the three LSTM cells in ``"fast"`` mode, run the level loop as one autograd
            Function with a hand-written backward (:mod:`treelstm.nn.fused_levels`). ``None``
            (default): whenever it applies, i.e. one of those cells and no gates asked for;
            ``True``: always, a ValueError where it cannot apply (another cell, ``mode="dgl"``,
            ``return_gates=True``); ``False``: never, autograd through the cells. The numbers are
            the same either way, but the fused backward is once differentiable: double backward
            (gradient penalties, ``torch.autograd.grad(..., create_graph=True)`` then backward
            through that gradient) needs ``fused=False``; fused, the backward with
            ``create_graph=True`` raises a RuntimeError. An attribute, like ``mode``.

    Inputs:
        graph: a DGLGraph (usually ``dgl.batch`` or :func:`treelstm.trees.batch` of many
            trees) whose edges go child -> parent; ``edata["slot"]`` orders the children
            of N-ary cells.
        x: ``(N, input_size)`` input of every node (zero rows where a node has none); or,
            with ``x_nodes``, ``(M, input_size)``, the inputs of those nodes only.
        schedule: the graph's :class:`~treelstm.trees.schedule.LevelSchedule`, if the caller
            computed it already (e.g. at collate time); ``"fast"`` mode only.
        return_gates: also return a dict of gate activations, each ``(N, H)``: the node
            gates (``i``, ``o``, ``u``; ``z``, ``h_hat`` for the GRU) and the per-child gates
            (``f``; ``r`` for the GRU), whose row ``k`` is the gate its parent applied to
            node ``k`` (zero for roots).
        x_nodes: ``(M,)`` int64, the only nodes that have an input, e.g. the leaves of
            constituency trees. The same as zero rows of ``x`` for the other nodes, but only
            ``M`` rows are multiplied by ``W``: about half the input projection's work on
            binary constituency trees.
        x_at_leaves: whether every node of ``x_nodes`` is a leaf (``True`` for constituency
            words), if the caller knows. On binary cells the leaves then skip the forget-gate
            rows of ``W`` (a leaf has no children to forget). ``None`` (default): found out from
            ``x_nodes`` when it is on the CPU; on a GPU it is not read (that would be a host
            sync), so pass it there, as :class:`~treelstm.models.batch.TreeBatch` does. Passing
            ``True`` when a node of ``x_nodes`` has children gives wrong states.

    Outputs:
        :class:`TreeLSTMOutput` ``(h, c, gates)``: ``h``, ``c`` ``(N, H)`` each, every node's
        states (``c`` is ``None`` for a GRU cell); ``gates`` the dict above with
        ``return_gates=True``, else ``None``.

    Raises:
        TypeError: ``graph`` not a DGLGraph (e.g. a plain-data ``Tree``), ``x`` not a tensor, a
            ``cell`` that is not a cell (at construction).
        ValueError: ``x`` not of shape ``(N, input_size)`` or not of the cell's dtype and device, a
            ``schedule`` of another graph, an unknown ``mode`` (at construction). Checked once per
            call on metadata only (see docs/cells.md, "Errors").
    """

    def __init__(self, cell: TreeCellProtocol, mode: str = "fast", fused: bool | None = None):
        super().__init__()
        if not isinstance(cell, TreeCellProtocol):
            raise TypeError(
                "TreeLSTM: cell must be a tree cell (an instance with TreeCellProtocol's hidden_size, state_names, "
                f"per_child_gate, project and __call__, e.g. ChildSumTreeLSTMCell(300, 150)), got {type_name(cell)}"
            )
        if mode not in _MODES:
            raise ValueError(f"TreeLSTM: mode must be 'fast' or 'dgl', got {mode!r}")
        if fused not in (None, True, False):
            raise ValueError(f"TreeLSTM: fused must be None, True or False, got {fused!r}")
        if fused:
            _fuse(cell, fused, False)  # a cell the fused loop does not implement: say so now
            if mode != "fast":
                raise ValueError(f"TreeLSTM: fused=True runs in mode='fast' only, got mode={mode!r}")
        self.cell, self.mode, self.fused = cell, mode, fused

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, fused={self.fused}"

    def forward(
        self,
        graph: dgl.DGLGraph,
        x: Tensor,
        schedule: LevelSchedule | None = None,
        return_gates: bool = False,
        x_nodes: Tensor | None = None,
        x_at_leaves: bool | None = None,
    ) -> TreeLSTMOutput:
        self._check(graph, x, schedule, x_nodes)
        if self.mode == "fast":
            schedule = schedule or LevelSchedule.from_graph(graph)
            _check_arity(self.cell, schedule.max_children)
            states, gates = run_levels(self.cell, x, schedule, return_gates, x_nodes, self.fused, x_at_leaves)
        elif self.mode == "dgl":
            if self.fused:
                raise ValueError(
                    "TreeLSTM: fused=True runs in mode='fast' only; set fused=None or False for mode='dgl'"
                )
            if x_nodes is not None:
                x = x.new_zeros(graph.num_nodes(), x.shape[1]).index_copy(0, x_nodes, x)
            states, gates = self._propagate_dgl(graph, x, return_gates)
        else:
            raise ValueError(f"TreeLSTM: mode must be 'fast' or 'dgl', got {self.mode!r}")
        return TreeLSTMOutput(states[0], states[1] if len(states) > 1 else None, gates if return_gates else None)

    def _check(self, graph: dgl.DGLGraph, x: Tensor, schedule: LevelSchedule | None, x_nodes: Tensor | None) -> None:
        """The inputs' types, shapes, dtypes and devices (metadata only: no host syncs)."""
        check_graph("TreeLSTM", graph)
        check_schedule("TreeLSTM", schedule, graph)
        if x_nodes is not None:
            check_tensor("TreeLSTM", "x_nodes", x_nodes, [("M", None)], dtype=torch.int64)
        rows = ("num_nodes", graph.num_nodes()) if x_nodes is None else ("len(x_nodes)", len(x_nodes))
        input_size = getattr(self.cell, "input_size", None)
        check_tensor("TreeLSTM", "x", x, [rows, ("input_size", input_size)], parameter_of(self.cell))

    def _propagate_dgl(self, graph: dgl.DGLGraph, x: Tensor, return_gates: bool):
        """The reference mode: DGL message passing over the topological frontiers."""
        if not runs_on(x.device):
            raise ValueError(
                f"TreeLSTM: mode='dgl' on {x.device} needs a DGL built for it, and the installed DGL "
                f"{dgl.__version__} cannot hold graphs there (PyPI's DGL is CPU-only; DGL's CUDA builds: "
                "https://www.dgl.ai/pages/start.html); use mode='fast', which runs on any device"
            )
        cell, names = self.cell, self.cell.state_names
        _check_arity(cell, int(graph.in_degrees().max()) if graph.num_edges() else 0)
        child, parent = graph.edges()
        slot = graph.edata["slot"] if "slot" in graph.edata else torch.from_numpy(
            sibling_ranks(parent.numpy(), child.numpy())
        )
        frontiers = [nodes.to(x.device) for nodes in dgl.topological_nodes_generator(graph)]  # on the CPU graph
        graph, slot = graph.to(x.device), slot.to(x.device)  # a copy, unless already there
        forgets: list[tuple[Tensor, Tensor]] = []  # (child ids, per-child gate) from each reduce call

        def message(edges):
            return {**{name: edges.src[name] for name in names}, "slot": edges.data["slot"], "k": edges.src["id"]}

        def reduce(nodes):
            B, deg = nodes.mailbox["slot"].shape
            parent_row = torch.arange(B, device=x.device).repeat_interleave(deg)
            children = tuple(nodes.mailbox[name].reshape(B * deg, -1) for name in names)
            new, gates = cell(nodes.data["wx"], children, parent_row, nodes.mailbox["slot"].reshape(-1), return_gates)
            return {**dict(zip(names, new)), **_node_gates(cell, gates, nodes.mailbox["k"].reshape(-1), forgets)}

        with graph.local_scope():
            graph.ndata["wx"] = wx = cell.project(x)
            graph.edata["slot"] = slot
            graph.ndata["id"] = torch.arange(len(x), device=x.device)
            leaves, none = frontiers[0], torch.zeros(0, dtype=torch.long, device=x.device)
            new, gates = cell(wx[leaves], tuple(x.new_zeros(0, cell.hidden_size) for _ in names), none, none, return_gates)
            for name, value in {**dict(zip(names, new)), **_node_gates(cell, gates, none, forgets)}.items():
                graph.ndata[name] = x.new_zeros(len(x), value.shape[1]).index_copy(0, leaves, value)
            dgl.prop_nodes(graph, frontiers[1:], message, reduce, None)
            states = tuple(graph.ndata[name] for name in names)
            gates = {name[5:]: graph.ndata[name] for name in graph.ndata if name.startswith("gate_")}
        if return_gates:
            k, values = (torch.cat(parts) for parts in zip(*forgets))
            gates[cell.per_child_gate] = x.new_zeros(len(x), cell.hidden_size).index_copy(0, k, values)
        return states, gates


_MODES = ("fast", "dgl")


def _fuse(cell: TreeCellProtocol, fused: bool | None, return_gates: bool) -> bool:
    """Whether the fast mode hands the level loop to :mod:`treelstm.nn.fused_levels`."""
    if fused is False:
        return False
    possible = not return_gates and fused_levels.supports(cell)
    if fused and not possible:
        if return_gates:
            raise ValueError("TreeLSTM: fused=True returns no gates; use fused=None or False with return_gates=True")
        raise ValueError(
            "TreeLSTM: fused=True needs a ChildSumTreeLSTMCell, NaryTreeLSTMCell or ChainLSTMCell (not a subclass "
            f"that changes forward), got {type(cell).__name__}; use fused=None or False"
        )
    return possible


def _node_gates(cell: TreeCellProtocol, gates: dict | None, child_ids: Tensor, forgets: list) -> dict[str, Tensor]:
    """Split a cell's gates: node gates go back as ``gate_<name>`` node data; the per-child
    gate is kept with its child ids in ``forgets``."""
    if gates is None:
        return {}
    forgets.append((child_ids, gates[cell.per_child_gate]))
    return {f"gate_{name}": value for name, value in gates.items() if name != cell.per_child_gate}


def _check_arity(cell: TreeCellProtocol, max_children: int) -> None:
    n_ary = getattr(cell, "n_ary", None)
    if n_ary is not None and max_children > n_ary:
        raise ValueError(
            f"TreeLSTM: a node has {max_children} children, but {type(cell).__name__} takes at most n_ary={n_ary}"
        )
