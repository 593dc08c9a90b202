r"""The Tree-LSTM level loop as one autograd Function, with a hand-written backward.

Run through autograd, the level loop of :func:`~treelstm.nn.encoder.run_levels` records a few
dozen small operations per level, and the backward of "gather the children's rows from the
state buffer, write the level's rows into it" allocates and adds a full ``(N, H)`` gradient
at every level: the cost grows with levels x nodes. Here the forward writes straight into
preallocated buffers without recording anything, and the backward walks the levels top-down
once, adding each level's gradients into the children's rows in place (the way fused LSTM
kernels such as cuDNN's do it), then forms the recurrent weights' gradients with one matrix
multiply over all nodes.

Same equations as :class:`~treelstm.nn.cells.NaryTreeLSTMCell` (and so
:class:`~treelstm.nn.cells.ChainLSTMCell`) and :class:`~treelstm.nn.cells.ChildSumTreeLSTMCell`,
in level order (``N`` nodes, ``E`` edges, ``H`` hidden units). For node :math:`j` with
:math:`\bar c_j = c_j` and the pre-activations :math:`a` of the gates, the backward uses

.. math::
    \delta c_j &= \partial c_j + \partial h_j \odot o_j \odot (1 - \tanh^2 c_j), \quad
    \delta o_j = \partial h_j \odot \tanh c_j \\
    \delta a^{(i)}_j &= \delta c_j \odot u_j \odot i_j (1 - i_j), \quad
    \delta a^{(u)}_j = \delta c_j \odot i_j \odot (1 - u_j^2), \quad
    \delta a^{(f)}_{jk} = \delta c_j \odot c_k \odot f_{jk} (1 - f_{jk}) \\
    \partial c_k &\mathrel{+}= \delta c_j \odot f_{jk}, \qquad
    \partial h_k \mathrel{+}= (\text{the rows of } U^\top \delta a_j \text{ that read } h_k)

where :math:`\partial` is the gradient arriving from outside and from the parent. The factors
that need no gradient (:math:`o_j (1 - \tanh^2 c_j)`, :math:`u_j i_j (1 - i_j)`, :math:`c_k f_{jk} (1 - f_{jk})`,
...) are computed for all nodes at once before the level loop (:func:`_local_derivatives`, with
:math:`\tanh c_j` kept from the forward), so a level's backward is a handful of element-wise
products, one matrix multiply and the scatter-adds into the children's rows. Leaves have no
children, so an N-ary leaf's forget-gate columns are never read (:func:`project_leaves` leaves
them out of the input projection). Only first
derivatives are supported: the backward is once differentiable (not itself differentiable),
so a backward that builds a graph for double backward (``create_graph=True``, e.g.
``torch.autograd.grad(loss, x, create_graph=True)`` for a gradient penalty) raises at once;
``TreeLSTM(cell, fused=False)`` runs autograd through the cells instead. (torch's own
``@once_differentiable`` raises only later, and only when the incoming gradients require grad:
after ``h.sum()`` they do not, and a gradient penalty would silently miss these levels' second
derivatives.)
Gate activations are not returned here: ``return_gates=True`` takes the plain autograd path.

Mixed precision: under ``torch.autocast`` (bf16 or fp16) the level loop runs in the parameters'
dtype (float32) with autocast off, so the memories :math:`c_j` accumulate over the levels in float32;
the input projection ``W x + b`` before it, one large matrix multiply, runs in the autocast dtype.
The states come out in float32.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from treelstm.nn.cells import ChildSumTreeLSTMCell, NaryTreeLSTMCell, TreeCell
from treelstm.trees.schedule import LevelSchedule

__all__ = ["supports", "run_fused", "project_leaves"]


def supports(cell: object) -> bool:
    """Whether ``cell`` is one of the LSTM cells this module implements (not a subclass that
    changes its equations)."""
    return getattr(type(cell), "forward", None) in (NaryTreeLSTMCell.forward, ChildSumTreeLSTMCell.forward)


def run_fused(cell: TreeCell, wx: Tensor, schedule: LevelSchedule) -> tuple[Tensor, Tensor]:
    """``(h, c)``, each ``(N, H)`` in level order and in the cell's dtype, from the level-ordered
    projections ``wx`` (in the autocast dtype under autocast: cast to the cell's dtype here)."""
    plan = _Plan.of(schedule)
    with _autocast_off(wx.device):
        wx = wx.to(next(cell.parameters()).dtype)
        if isinstance(cell, NaryTreeLSTMCell):
            return _NaryLevels.apply(wx, cell.U, plan, cell.n_ary, cell.output_gate)
        return _ChildSumLevels.apply(wx, cell.U, cell.U_f, plan, cell.output_gate)


def project_leaves(
    cell: TreeCell, x: Tensor, x_nodes: Tensor, schedule: LevelSchedule, at_leaves: bool | None = None
) -> Tensor | None:
    """The level-ordered ``wx`` for :func:`run_fused` of an N-ary cell whose inputs ``x`` ``(M, in)`` are
    at leaves only (``x_nodes``, e.g. the words of constituency trees), or ``None`` when that does not
    hold. ``at_leaves`` says whether it holds (the data pipeline knows, e.g.
    :attr:`~treelstm.models.batch.TreeBatch.words_at_leaves`); ``None``: found out from ``x_nodes`` when
    it is on the CPU, and not tried when it is not (reading a device tensor would be a host sync).

    A leaf has no children to forget, so its forget-gate rows of ``W x + b`` are never read: the
    leaves are projected with the node gates' rows of ``W`` only (``3H`` of the binary cell's ``5H``
    rows, or ``2H`` without the output gate), and every node's forget-gate columns hold ``b``
    (what a node without input has). The same states and gradients as the full projection (up to
    float rounding: ``b`` is added after the product here); ``W``'s forget-gate rows get a zero
    gradient from the leaves either way.
    """
    if not isinstance(cell, NaryTreeLSTMCell) or type(cell).project is not TreeCell.project or not supports(cell):
        return None
    if at_leaves is False or x.shape[-1] != cell.input_size:
        return None
    if at_leaves is None:
        if x_nodes.device.type != "cpu" or schedule.level.device.type != "cpu":
            return None
        if len(x_nodes) and int(schedule.level.index_select(0, x_nodes).max()) > 0:  # CPU tensors: no device sync
            return None
    s = schedule.to(x.device)
    node = (3 if cell.output_gate else 2) * cell.hidden_size
    projected = F.linear(x, cell.W[:node])  # in the autocast dtype under autocast
    return _LeafInputs.apply(projected, cell.b.to(projected.dtype), s.position.index_select(0, x_nodes.to(x.device)),
                             s.num_nodes)


class _LeafInputs(torch.autograd.Function):
    """``wx = b`` on every row, plus ``projected`` on the node gates' columns of the rows ``rows``; the
    backward is one ``index_select`` and one column sum (not autograd's copies of in-place writes)."""

    @staticmethod
    def forward(ctx, projected: Tensor, b: Tensor, rows: Tensor, num: int) -> Tensor:
        wx = b.expand(num, -1).contiguous()
        wx[:, : projected.shape[1]].index_add_(0, rows, projected)
        ctx.save_for_backward(rows)
        ctx.columns = projected.shape[1]
        return wx

    @staticmethod
    def backward(ctx, grad: Tensor):
        (rows,) = ctx.saved_tensors
        d_projected = grad[:, : ctx.columns].index_select(0, rows) if ctx.needs_input_grad[0] else None
        return d_projected, grad.sum(0) if ctx.needs_input_grad[1] else None, None, None


def _autocast_off(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast disabled on ``device`` while it is enabled there (the level loop's ``out=`` writes
    need the buffers' dtype); nothing otherwise."""
    if torch.amp.is_autocast_available(device.type) and torch.is_autocast_enabled(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def _once_differentiable(backward):
    """Like ``torch.autograd.function.once_differentiable``, but strict: a backward asked to
    build a graph (``create_graph=True``, so grad mode is on inside it) raises at once, whether
    or not the incoming gradients require grad (the second derivative depends on the saved
    tensors too, which torch's decorator does not see)."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "backward with create_graph=True through the fused Tree-LSTM levels: their backward is "
                "once_differentiable (treelstm.nn.fused_levels has first derivatives only); for double "
                "backward, e.g. a gradient penalty, run TreeLSTM(cell, fused=False)"
            )
        device = next(g.device for g in grads if g is not None)
        with _autocast_off(device):  # a backward called inside an autocast region
            return backward(ctx, *grads)

    return wrapper


@dataclass(frozen=True)
class _Plan:
    """Per level ``(a, b, ea, eb)``: its rows and its edges; per edge: the child's row, the
    parent's row within its level and over all levels (all ``(E,)`` int64)."""

    levels: tuple[tuple[int, int, int, int], ...]
    child: Tensor
    parent: Tensor
    parent_row: Tensor
    slot: Tensor

    @classmethod
    def of(cls, s: LevelSchedule) -> "_Plan":
        key = ("fused-plan", s.child.device)
        if key not in s._cache:
            # each edge's level start, from the schedule's Python ints on the CPU (a device
            # repeat_interleave without output_size would read its sizes back: a host sync)
            edges_per_level = torch.tensor([s.edge_offsets[l + 1] - s.edge_offsets[l] for l in range(s.num_levels)])
            level_start = torch.tensor(s.offsets[:-1]).repeat_interleave(edges_per_level, output_size=len(s.child))
            parent_row = s.parent + level_start.to(s.child.device, non_blocking=True)
            levels = tuple(zip(s.offsets[:-1], s.offsets[1:], s.edge_offsets[:-1], s.edge_offsets[1:]))
            s._cache[key] = cls(levels, s.child, s.parent, parent_row, s.slot)
        return s._cache[key]


def _activate(gates: Tensor, H: int, u: int) -> None:
    """In place: sigmoid on every gate block but block ``u`` (the candidate), tanh on that one."""
    gates[:, : u * H].sigmoid_()
    gates[:, u * H : (u + 1) * H].tanh_()
    gates[:, (u + 1) * H :].sigmoid_()


def _activate_into(pre: Tensor, out: Tensor, H: int, u: int) -> None:
    """:func:`_activate` of ``pre`` written into ``out`` (same shape)."""
    torch.sigmoid(pre[:, : u * H], out=out[:, : u * H])
    torch.tanh(pre[:, u * H : (u + 1) * H], out=out[:, u * H : (u + 1) * H])
    if pre.shape[1] > (u + 1) * H:
        torch.sigmoid(pre[:, (u + 1) * H :], out=out[:, (u + 1) * H :])


def _finish_node(g: Tensor, carried: Tensor | float, c: Tensor, h: Tensor, tc: Tensor, H: int, output_gate: bool) -> None:
    """``c = i * u + carried``, ``h = o * tanh(c)`` (or ``tanh(c)``), written into ``c`` and ``h``, and
    ``tanh(c)`` into ``tc`` (kept for the backward: ``tanh`` is many times the cost of ``sigmoid`` on
    the CPU; ``tc`` is ``h`` itself without the output gate)."""
    i = g[:, :H]
    u = g[:, 2 * H : 3 * H] if output_gate else g[:, H : 2 * H]
    if isinstance(carried, Tensor):
        torch.addcmul(carried, i, u, out=c)
    else:
        torch.mul(i, u, out=c)
    if output_gate:
        torch.mul(g[:, H : 2 * H], torch.tanh(c, out=tc), out=h)
    else:
        torch.tanh(c, out=h)


class _NaryLevels(torch.autograd.Function):
    """N-ary Tree-LSTM (eqs. 9-14): ``U`` ``(G*H, N*H)`` reads the children stacked by slot.

    Leaves (level 0) use only the node gates' columns of ``wx`` (a leaf has no children to forget,
    so its forget-gate columns are never read: :func:`project` leaves them out). The children's
    states are kept stacked by slot for the internal nodes only (``(num - leaves) * N`` rows).
    """

    @staticmethod
    def forward(ctx, wx: Tensor, U: Tensor, plan: _Plan, n_ary: int, output_gate: bool):
        num, H, N = wx.shape[0], U.shape[1] // n_ary, n_ary
        k = 3 if output_gate else 2  # node gates; the n_ary forget gates follow
        first = plan.levels[0][1]  # level 0: the leaves
        gates = torch.empty_like(wx)
        h, c = wx.new_empty(num, H), wx.new_empty(num, H)  # every row is written below
        tc = wx.new_empty(num, H) if output_gate else h  # tanh(c)
        # child l of internal node j at row (j - first) * N + l; a missing child stays 0
        h_jl, c_jl = wx.new_zeros((num - first) * N, H), wx.new_zeros((num - first) * N, H)
        at = plan.parent_row * N + plan.slot - first * N
        for a, b, ea, eb in plan.levels:
            g = gates[a:b]
            if eb == ea:  # leaves: node gates only
                _activate_into(wx[a:b, : k * H], g[:, : k * H], H, k - 1)
                _finish_node(g, 0.0, c[a:b], h[a:b], tc[a:b], H, output_gate)
                continue
            lo, hi = (a - first) * N, (b - first) * N
            child = plan.child[ea:eb]
            if eb - ea == hi - lo:  # every slot filled: the edges are the rows lo..hi in order
                torch.index_select(h, 0, child, out=h_jl[lo:hi])
                torch.index_select(c, 0, child, out=c_jl[lo:hi])
            else:
                h_jl.index_copy_(0, at[ea:eb], h.index_select(0, child))
                c_jl.index_copy_(0, at[ea:eb], c.index_select(0, child))
            torch.addmm(wx[a:b], h_jl[lo:hi].view(b - a, N * H), U.t(), out=g)
            _activate(g, H, k - 1)
            f = g[:, k * H :].view(b - a, N, H)
            carried = (f * c_jl[lo:hi].view(b - a, N, H)).sum(1)
            _finish_node(g, carried, c[a:b], h[a:b], tc[a:b], H, output_gate)
        ctx.save_for_backward(U, gates, c, tc, h_jl, c_jl, at)
        ctx.plan, ctx.n_ary, ctx.output_gate = plan, n_ary, output_gate
        return h, c

    @staticmethod
    @_once_differentiable
    def backward(ctx, dh_out: Tensor | None, dc_out: Tensor | None):
        U, gates, c, tc, h_jl, c_jl, at = ctx.saved_tensors
        plan, N, output_gate = ctx.plan, ctx.n_ary, ctx.output_gate
        num, H = c.shape
        k, G = (3 if output_gate else 2), gates.shape[1] // H
        first = plan.levels[0][1]
        # Every node's local derivatives at once (element-wise over all N nodes, not per level):
        # delta_c = dc + dh * A, and the gates' pre-activation gradients are delta_c * D (dh * D_o for o).
        A, D_o, D = _nary_local_derivatives(gates, tc, c_jl, first, H, N, k, output_gate)
        f = gates[first:, k * H :].view(num - first, N, H)
        dh = dh_out.clone() if dh_out is not None else c.new_zeros(num, H)
        dc = dc_out.clone() if dc_out is not None else c.new_zeros(num, H)
        da = D.view(num, G * H)  # the factors, multiplied in place level by level: the gradient of wx
        delta_c = torch.empty_like(c)
        for a, b, ea, eb in reversed(plan.levels):
            n, d = b - a, da[a:b]
            dl = torch.addcmul(dc[a:b], dh[a:b], A[a:b], out=delta_c[a:b])
            d.view(n, G, H).mul_(dl.unsqueeze(1))
            if D_o is not None:  # the output gate's
                torch.mul(dh[a:b], D_o[a:b], out=d[:, H : 2 * H])
            if eb > ea:
                child = plan.child[ea:eb]
                to_h = (d @ U).view(n * N, H)
                to_c = (dl.unsqueeze(1) * f[a - first : b - first]).view(n * N, H)
                if eb - ea != n * N:  # some slots empty: the edges' rows
                    rows = at[ea:eb] - (a - first) * N
                    to_h, to_c = to_h.index_select(0, rows), to_c.index_select(0, rows)
                dh.index_add_(0, child, to_h)
                dc.index_add_(0, child, to_c)
        dU = da[first:].t() @ h_jl.view(num - first, N * H) if ctx.needs_input_grad[1] else None
        return da, dU, None, None, None


def _local_derivatives(gates: Tensor, tc: Tensor, H: int, k: int, output_gate: bool,
                       blocks: int | None = None) -> tuple[Tensor, Tensor | None, Tensor]:
    r"""Every node's local derivatives at once (element-wise over all nodes, not level by level).

    Returns ``A`` with :math:`\delta c_j = \partial c_j + \partial h_j \odot A_j`
    (:math:`A = o (1 - \tanh^2 c)`, or :math:`1 - \tanh^2 c` without the output gate), ``D_o``
    :math:`= \tanh c \cdot o (1 - o)` (the output gate's pre-activation gradient is
    :math:`\partial h \odot D_o`; ``None`` without it) and ``D`` ``(num, blocks, H)`` (``blocks``
    defaults to the ``k`` node gates): gate block ``g``'s pre-activation gradient is
    :math:`\delta c_j \odot D_{j,g}`, with :math:`u\, i (1 - i)` for ``i`` and :math:`i (1 - u^2)` for
    ``u``; the ``o`` block is zero here (:math:`\partial h \odot D_o` replaces it per level) and the
    blocks after ``k`` are left for the caller (the N-ary cell's forget gates). The backward turns
    ``D`` into the gradient in place, level by level (no second buffer of its size)."""
    num = tc.shape[0]
    one_minus = torch.addcmul(torch.ones_like(tc), tc, tc, value=-1)  # 1 - tanh^2 c
    i, u = gates[:, :H], gates[:, (k - 1) * H : k * H]
    D = torch.empty(num, blocks or k, H, dtype=gates.dtype, device=gates.device)
    torch.mul(u * i, 1 - i, out=D[:, 0])
    torch.mul(i, torch.addcmul(torch.ones_like(u), u, u, value=-1), out=D[:, k - 1])
    if not output_gate:
        return one_minus, None, D
    o = gates[:, H : 2 * H]
    D[:, 1].zero_()
    return o * one_minus, torch.mul(tc * o, 1 - o), D


def _nary_local_derivatives(gates: Tensor, tc: Tensor, c_jl: Tensor, first: int, H: int, N: int, k: int,
                            output_gate: bool) -> tuple[Tensor, Tensor | None, Tensor]:
    r""":func:`_local_derivatives` with the forget gates' blocks of ``D``: forget gate ``l`` of node ``j``
    has :math:`c_{jl} f_{jl} (1 - f_{jl})` (zero for the leaves, which have no children)."""
    num = tc.shape[0]
    A, D_o, D = _local_derivatives(gates, tc, H, k, output_gate, blocks=gates.shape[1] // H)
    D[:first, k:].zero_()
    f = gates[first:, k * H :].view(num - first, N, H)
    torch.mul(c_jl.view(num - first, N, H) * f, 1 - f, out=D[first:, k:])
    return A, D_o, D

class _ChildSumLevels(torch.autograd.Function):
    """Child-Sum Tree-LSTM (eqs. 2-8): node gates read :math:`\\tilde h_j = \\sum_k h_k` through
    ``U``; each child's forget gate reads its own :math:`h_k` through ``U_f``."""

    @staticmethod
    def forward(ctx, wx: Tensor, U: Tensor, U_f: Tensor, plan: _Plan, output_gate: bool):
        num, H = wx.shape[0], U_f.shape[0]
        k = 3 if output_gate else 2
        wx_node, wx_f = wx[:, : k * H], wx[:, k * H :]
        gates = torch.empty(num, k * H, dtype=wx.dtype, device=wx.device)
        forget = wx.new_empty(len(plan.child), H)  # f_jk per edge
        h, c, h_tilde = wx.new_zeros(num, H), wx.new_zeros(num, H), wx.new_zeros(num, H)
        tc = wx.new_empty(num, H) if output_gate else h  # tanh(c)
        for a, b, ea, eb in plan.levels:
            g = gates[a:b]
            carried: Tensor | float = 0.0
            if eb > ea:
                child, parent = plan.child[ea:eb], plan.parent[ea:eb]
                h_k = h.index_select(0, child)
                h_tilde[a:b].index_add_(0, parent, h_k)
                torch.addmm(wx_node[a:b], h_tilde[a:b], U.t(), out=g)
                f = torch.addmm(wx_f.index_select(0, plan.parent_row[ea:eb]), h_k, U_f.t(), out=forget[ea:eb])
                f.sigmoid_()
                carried = c.new_zeros(b - a, H).index_add_(0, parent, f * c.index_select(0, child))
            else:
                g.copy_(wx_node[a:b])
            _activate(g, H, k - 1)
            _finish_node(g, carried, c[a:b], h[a:b], tc[a:b], H, output_gate)
        ctx.save_for_backward(U, U_f, gates, forget, h, c, tc, h_tilde)
        ctx.plan, ctx.output_gate = plan, output_gate
        return h, c

    @staticmethod
    @_once_differentiable
    def backward(ctx, dh_out: Tensor | None, dc_out: Tensor | None):
        U, U_f, gates, forget, h, c, tc, h_tilde = ctx.saved_tensors
        plan, output_gate = ctx.plan, ctx.output_gate
        num, H = c.shape
        k = 3 if output_gate else 2
        A, D_o, D = _local_derivatives(gates, tc, H, k, output_gate)  # all nodes at once, as for the N-ary cell
        # per edge: f_jk (1 - f_jk) c_k, so that the forget gate's pre-activation gradient is delta_c_j times it
        D_f = torch.mul(forget * (1 - forget), c.index_select(0, plan.child))
        dh = dh_out.clone() if dh_out is not None else c.new_zeros(num, H)
        dc = dc_out.clone() if dc_out is not None else c.new_zeros(num, H)
        da_node = D.view(num, k * H)  # the factors, multiplied in place level by level
        da_f = torch.empty_like(forget)  # per edge
        delta_c = torch.empty_like(c)
        for a, b, ea, eb in reversed(plan.levels):
            n, d = b - a, da_node[a:b]
            dl = torch.addcmul(dc[a:b], dh[a:b], A[a:b], out=delta_c[a:b])
            d.view(n, k, H).mul_(dl.unsqueeze(1))
            if D_o is not None:  # the output gate's
                torch.mul(dh[a:b], D_o[a:b], out=d[:, H : 2 * H])
            if eb > ea:
                child, parent = plan.child[ea:eb], plan.parent[ea:eb]
                delta_c_k = dl.index_select(0, parent)
                dc.index_add_(0, child, delta_c_k * forget[ea:eb])
                d_f = torch.mul(delta_c_k, D_f[ea:eb], out=da_f[ea:eb])
                dh.index_add_(0, child, (d @ U).index_select(0, parent).addmm_(d_f, U_f))
        dwx = torch.cat([da_node, c.new_zeros(num, H).index_add_(0, plan.parent_row, da_f)], dim=1)
        first = plan.levels[0][1]  # level 0 is the leaves: no children, nothing for U
        dU = da_node[first:].t() @ h_tilde[first:] if ctx.needs_input_grad[1] else None
        dU_f = da_f.t() @ h.index_select(0, plan.child) if ctx.needs_input_grad[2] else None
        return dwx, dU, dU_f, None, None
