r"""Tree-LSTM and Tree-GRU cells: the equations for one level of nodes.

A cell knows nothing of graphs. The encoder (:mod:`treelstm.nn.encoder`) first projects every
node's input at once with :meth:`TreeCell.project` (``W x_j + b`` for all gates), then
calls the cell once per level with

* ``wx`` -- ``(n, G*H)``, the projected inputs of the level's ``n`` nodes;
* ``children`` -- the states of their ``m`` children, e.g. ``(h_k, c_k)``, each ``(m, H)``;
* ``parent`` -- ``(m,)`` int64, for each child the row ``j`` (``0..n-1``) of its parent;
* ``slot`` -- ``(m,)`` int64, for each child its position ``l`` among its parent's children.

and gets back the level's new states (``(h_j, c_j)``, each ``(n, H)``) and, when asked,
its gate activations: node gates ``(n, H)`` and per-child forget gates ``(m, H)``
(row ``k`` is the gate on child ``k``'s memory).

Symbols follow Tai, Socher & Manning (2015), "Improved Semantic Representations From
Tree-Structured Long Short-Term Memory Networks": ``x_j`` input, ``h_k``/``c_k`` a
child's hidden and memory state, ``i, f, o`` input, forget and output gates, ``u`` the
candidate update. Weights are stacked per gate: ``W`` is ``(G*H, input_size)`` with one
block of ``H`` rows per gate, in the order given by ``gate_names``.
"""

from __future__ import annotations

import math
import numbers
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TreeCellProtocol", "TreeCell", "ChildSumTreeLSTMCell", "NaryTreeLSTMCell", "LinearLeafNaryTreeLSTMCell",
           "ChainLSTMCell", "ChildSumTreeGRUCell"]

Gates = dict[str, Tensor]


@runtime_checkable
class TreeCellProtocol(Protocol):
    """What :class:`~treelstm.TreeLSTM` needs of a cell: the interface between the equations
    (the cell) and the traversal (the encoder). The library's cells subclass :class:`TreeCell`;
    a cell of your own only has to provide these (it should be an ``nn.Module`` so that its
    parameters are registered):

    Attributes:
        hidden_size: ``H``, the size of every state.
        state_names: the states carried from children to parents, e.g. ``("h", "c")``; the
            first is the hidden state ``h``, the second (if any) the memory ``c``.
        per_child_gate: the name of the gate computed once per child (e.g. ``"f"``); only read
            with ``return_gates=True``.

    Methods:
        project: ``W x + b`` for a batch of nodes, ``(n, input_size) -> (n, G*H)``; called once
            for all nodes.
        __call__: one level of nodes: ``(wx, children, parent, slot, return_gates)`` with
            ``wx`` ``(n, G*H)`` the level's projected inputs, ``children`` one ``(m, H)`` tensor
            per state (the states of the level's ``m`` children; ``m = 0`` for leaves),
            ``parent`` ``(m,)`` each child's row ``0..n-1`` in the level and ``slot`` ``(m,)``
            its position among its parent's children. Returns the level's new states (one
            ``(n, H)`` tensor per state name) and, if ``return_gates``, a dict of gates
            (``(n, H)`` per node, ``(m, H)`` per child for ``per_child_gate``), else ``None``.

    Optional: ``n_ary``, the most children a node may have (checked before running). A
    cell that is not a :class:`TreeCell` and is given inputs for some nodes only
    (``x_nodes``) has the others' ``W x + b`` computed as ``project`` of a zero row.

    Example:
        >>> import treelstm
        >>> isinstance(treelstm.ChildSumTreeGRUCell(4, 3), treelstm.TreeCellProtocol)
        True
    """

    hidden_size: int
    state_names: tuple[str, ...]
    per_child_gate: str

    def project(self, x: Tensor) -> Tensor: ...

    def __call__(
        self, wx: Tensor, children: tuple[Tensor, ...], parent: Tensor, slot: Tensor, return_gates: bool = False
    ) -> tuple[tuple[Tensor, ...], Gates | None]: ...


class TreeCell(nn.Module):
    """Base class: parameters ``W`` (``(G*H, input_size)``) and ``b`` (``(G*H,)``), plus
    the recurrent weights of each subclass. Implements :class:`TreeCellProtocol`.

    Attributes:
        state_names: names of the states the cell carries, e.g. ``("h", "c")``.
        per_child_gate: the gate computed once per child (the forget gate ``f``).
        gate_names: the gate blocks of ``W``'s rows, in order.
    """

    state_names: tuple[str, ...] = ("h", "c")
    per_child_gate: str = "f"
    gate_names: tuple[str, ...]

    def __init__(self, input_size: int, hidden_size: int, gate_names: tuple[str, ...]):
        super().__init__()
        _check_size(type(self).__name__, "input_size", input_size)
        _check_size(type(self).__name__, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.gate_names = input_size, hidden_size, gate_names
        self.W = nn.Parameter(torch.empty(len(gate_names) * hidden_size, input_size))
        self.b = nn.Parameter(torch.empty(len(gate_names) * hidden_size))

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every weight, as torch.nn.LSTM does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def project(self, x: Tensor) -> Tensor:
        """``W x + b`` for every node: ``(N, input_size) -> (N, G*H)``."""
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}.project: x must have input_size={self.input_size} features (its last "
                f"dimension), got shape {tuple(x.shape)}"
            )
        return F.linear(x, self.W, self.b)

    def extra_repr(self) -> str:
        """The constructor's arguments, e.g. ``NaryTreeLSTMCell(300, 150, n_ary=2, output_gate=True)``."""
        return f"{self.input_size}, {self.hidden_size}"


def _check_size(owner: str, name: str, value: object, least: int = 1) -> None:
    """A size argument must be an int (not a bool) of at least ``least``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < least:
        raise ValueError(f"{owner}: {name} must be at least {least}, got {value}")


def _sum_children(values: Tensor, parent: Tensor, n: int) -> Tensor:
    """``out[j] = sum of values[k] over the children k of j``: ``(m, H) -> (n, H)``."""
    return values.new_zeros(n, values.shape[1]).index_add(0, parent, values)


def _lstm_update(cell: TreeCell, node: Tensor, carried: Tensor | float) -> tuple[tuple[Tensor, Tensor], Gates]:
    """From the node gates' pre-activations ``(n, len(node gates)*H)`` and the forgotten-in
    memory ``sum_k f_jk * c_k``: ``c_j = i*u + carried``, ``h_j = o*tanh(c_j)`` (or ``tanh(c_j)``)."""
    names = [g for g in cell.gate_names if not g.startswith("f")]
    gates = dict(zip(names, node.chunk(len(names), dim=1)))
    i, u = torch.sigmoid(gates["i"]), torch.tanh(gates["u"])
    c = i * u + carried
    if not cell.output_gate:
        return (torch.tanh(c), c), {"i": i, "u": u}
    o = torch.sigmoid(gates["o"])
    return (o * torch.tanh(c), c), {"i": i, "o": o, "u": u}


class ChildSumTreeLSTMCell(TreeCell):
    r"""Child-Sum Tree-LSTM cell (Tai et al. 2015, eqs. 2-8), for trees of any branching.

    For node :math:`j` with children :math:`C(j)`:

    .. math::
        \tilde h_j &= \textstyle\sum_{k \in C(j)} h_k \\
        i_j &= \sigma(W^{(i)} x_j + U^{(i)} \tilde h_j + b^{(i)}) \\
        f_{jk} &= \sigma(W^{(f)} x_j + U^{(f)} h_k + b^{(f)}) \\
        o_j &= \sigma(W^{(o)} x_j + U^{(o)} \tilde h_j + b^{(o)}) \\
        u_j &= \tanh(W^{(u)} x_j + U^{(u)} \tilde h_j + b^{(u)}) \\
        c_j &= i_j \odot u_j + \textstyle\sum_{k \in C(j)} f_{jk} \odot c_k \\
        h_j &= o_j \odot \tanh(c_j)

    With ``output_gate=False`` there is no :math:`o_j` and :math:`h_j = \tanh(c_j)`, as in
    the reference implementation's relatedness model.

    Args:
        input_size: size of :math:`x_j`.
        hidden_size: size :math:`H` of :math:`h_j` and :math:`c_j`.
        output_gate: keep the output gate.

    Parameters:
        W: ``(G*H, input_size)``, rows :math:`W^{(i)}, W^{(o)}, W^{(u)}, W^{(f)}` (no ``o`` without the output gate).
        U: ``((G-1)*H, H)``, rows :math:`U^{(i)}, U^{(o)}, U^{(u)}`.
        U_f: ``(H, H)``, :math:`U^{(f)}`.
        b: ``(G*H,)``.

    Example:
        >>> import torch, treelstm
        >>> cell = treelstm.ChildSumTreeLSTMCell(300, 150)
        >>> tree = treelstm.trees.from_parents("2 0 2")
        >>> out = treelstm.TreeLSTM(cell)(tree.graph, torch.randn(3, 300))
        >>> out.h.shape
        torch.Size([3, 150])
    """

    def __init__(self, input_size: int, hidden_size: int, output_gate: bool = True):
        super().__init__(input_size, hidden_size, ("i", "o", "u", "f") if output_gate else ("i", "u", "f"))
        self.output_gate = output_gate
        self.U = nn.Parameter(torch.empty((len(self.gate_names) - 1) * hidden_size, hidden_size))
        self.U_f = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, output_gate={self.output_gate}"

    def forward(
        self, wx: Tensor, children: tuple[Tensor, Tensor], parent: Tensor, slot: Tensor, return_gates: bool = False
    ) -> tuple[tuple[Tensor, Tensor], Gates | None]:
        h_k, c_k = children
        n, H = wx.shape[0], self.hidden_size
        wx_node, wx_f = wx.split([wx.shape[1] - H, H], dim=1)
        if len(h_k):  # a level of leaves has no recurrent terms
            h_tilde = _sum_children(h_k, parent, n)
            wx_node = wx_node + h_tilde @ self.U.T
        f = torch.sigmoid(wx_f.index_select(0, parent) + h_k @ self.U_f.T)
        (h, c), gates = _lstm_update(self, wx_node, _sum_children(f * c_k, parent, n))
        return (h, c), (gates | {"f": f} if return_gates else None)


class NaryTreeLSTMCell(TreeCell):
    r"""N-ary Tree-LSTM cell (Tai et al. 2015, eqs. 9-14), for trees with at most
    :math:`N` ordered children (the binary constituency trees of SST: :math:`N = 2`).

    Child :math:`l` of node :math:`j` has its own weights :math:`U_l`, and each child's
    forget gate sees all children:

    .. math::
        i_j &= \sigma(W^{(i)} x_j + \textstyle\sum_{l=1}^N U^{(i)}_l h_{jl} + b^{(i)}) \\
        f_{jk} &= \sigma(W^{(f)} x_j + \textstyle\sum_{l=1}^N U^{(f)}_{kl} h_{jl} + b^{(f)}) \\
        o_j &= \sigma(W^{(o)} x_j + \textstyle\sum_{l=1}^N U^{(o)}_l h_{jl} + b^{(o)}) \\
        u_j &= \tanh(W^{(u)} x_j + \textstyle\sum_{l=1}^N U^{(u)}_l h_{jl} + b^{(u)}) \\
        c_j &= i_j \odot u_j + \textstyle\sum_{l=1}^N f_{jl} \odot c_{jl} \\
        h_j &= o_j \odot \tanh(c_j)

    A missing child counts as zero state. Leaves take the word input; internal nodes
    of a constituency tree have none: give them zero rows of ``x``, so only :math:`b`
    remains of :math:`W x_j + b`.

    Args:
        input_size: size of :math:`x_j`.
        hidden_size: size :math:`H`.
        n_ary: :math:`N`, the most children a node may have; the child's slot picks :math:`U_l`.
        output_gate: keep the output gate (else :math:`h_j = \tanh(c_j)`).

    Parameters:
        W: ``((G + N - 1)*H, input_size)``, rows :math:`W^{(i)}, W^{(o)}, W^{(u)}`, then
            :math:`W^{(f)}` once per child position.
        U: ``((G + N - 1)*H, N*H)``: column block :math:`l` is child :math:`l`'s
            :math:`U_l` for every gate; row block :math:`3 + k` holds :math:`U^{(f)}_{kl}`.
        b: ``((G + N - 1)*H,)``.
    """

    def __init__(self, input_size: int, hidden_size: int, n_ary: int = 2, output_gate: bool = True):
        _check_size(type(self).__name__, "n_ary", n_ary)
        node_gates = ("i", "o", "u") if output_gate else ("i", "u")
        super().__init__(input_size, hidden_size, node_gates + tuple(f"f{l}" for l in range(n_ary)))
        self.n_ary, self.output_gate = n_ary, output_gate
        self.U = nn.Parameter(torch.empty(len(self.gate_names) * hidden_size, n_ary * hidden_size))
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_ary={self.n_ary}, output_gate={self.output_gate}"

    def forward(
        self, wx: Tensor, children: tuple[Tensor, Tensor], parent: Tensor, slot: Tensor, return_gates: bool = False
    ) -> tuple[tuple[Tensor, Tensor], Gates | None]:
        h_k, c_k = children
        n, H, N = wx.shape[0], self.hidden_size, self.n_ary
        at = parent * N + slot  # row of child (j, l) in the (n*N, H) layout below
        carried: Tensor | float = 0.0
        if len(h_k):  # a level of leaves has no recurrent terms
            h_jl = wx.new_zeros(n * N, H).index_copy(0, at, h_k).view(n, N * H)  # missing child = 0
            c_jl = wx.new_zeros(n * N, H).index_copy(0, at, c_k).view(n, N, H)
            wx = wx + h_jl @ self.U.T
        node, f = wx.split([wx.shape[1] - N * H, N * H], dim=1)
        f = torch.sigmoid(f).view(n, N, H)
        if len(h_k):
            carried = (f * c_jl).sum(dim=1)
        (h, c), gates = _lstm_update(self, node, carried)
        return (h, c), (gates | {"f": f.reshape(n * N, H).index_select(0, at)} if return_gates else None)


class LinearLeafNaryTreeLSTMCell(NaryTreeLSTMCell):
    r"""The N-ary Tree-LSTM cell with the leaf module of Tai et al.'s reference code (the Lua
    ``BinaryTreeLSTM``): internal nodes follow eqs. 9-14 as :class:`NaryTreeLSTMCell`; a leaf
    has no input gate and a memory linear in its input,

    .. math::
        c_j = W^{(u)} x_j + b^{(u)}, \qquad o_j = \sigma(W^{(o)} x_j + b^{(o)}), \qquad
        h_j = o_j \odot \tanh(c_j)

    (:math:`h_j = \tanh(c_j)` without the output gate), where the paper's equations give a leaf
    :math:`c_j = i_j \odot \tanh(W^{(u)} x_j + b^{(u)})`. The parameters are
    :class:`NaryTreeLSTMCell`'s: the leaf reads the ``u`` and ``o`` rows of ``W`` and ``b`` (the
    reference keeps separate biases for its leaf module; here the bias is shared with the internal
    nodes, whose ``W x_j`` is zero in constituency trees). With ``return_gates=True`` a leaf
    reports :math:`i_j = 1` and :math:`u_j = c_j`, so that :math:`c_j = i_j \odot u_j` still holds.

    A level is a level of leaves when it has no children (``m = 0``): the encoder's levels group
    nodes by height, so every leaf is in the first level and no other level has one.
    This cell runs through autograd (``TreeLSTM(..., fused=None)`` takes that path for it).
    """

    def forward(
        self, wx: Tensor, children: tuple[Tensor, Tensor], parent: Tensor, slot: Tensor, return_gates: bool = False
    ) -> tuple[tuple[Tensor, Tensor], Gates | None]:
        if len(children[0]):
            return super().forward(wx, children, parent, slot, return_gates)
        H = self.hidden_size
        names = [g for g in self.gate_names if not g.startswith("f")]
        pre = dict(zip(names, wx[:, : len(names) * H].chunk(len(names), dim=1)))
        c = pre["u"]
        gates = {"i": torch.ones_like(c), "u": c}
        if self.output_gate:
            gates["o"] = o = torch.sigmoid(pre["o"])
            h = o * torch.tanh(c)
        else:
            h = torch.tanh(c)
        return (h, c), (gates | {"f": wx.new_zeros(0, H)} if return_gates else None)


class ChainLSTMCell(NaryTreeLSTMCell):
    r"""The LSTM of Hochreiter & Schmidhuber (1997) as used by Tai et al. (2015): an
    N-ary Tree-LSTM cell with :math:`N = 1`, every node taking the word input and its
    predecessor :math:`t-1` as its one child:

    .. math::
        i_t &= \sigma(W^{(i)} x_t + U^{(i)} h_{t-1} + b^{(i)}) \qquad
        f_t = \sigma(W^{(f)} x_t + U^{(f)} h_{t-1} + b^{(f)}) \\
        o_t &= \sigma(W^{(o)} x_t + U^{(o)} h_{t-1} + b^{(o)}) \qquad
        u_t = \tanh(W^{(u)} x_t + U^{(u)} h_{t-1} + b^{(u)}) \\
        c_t &= i_t \odot u_t + f_t \odot c_{t-1} \qquad h_t = o_t \odot \tanh(c_t)

    ``W``/``U`` rows are :math:`i, o, u, f` (torch.nn.LSTM's are :math:`i, f, g, o`).
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, n_ary=1, output_gate=True)

    def extra_repr(self) -> str:
        return TreeCell.extra_repr(self)


class ChildSumTreeGRUCell(TreeCell):
    r"""Child-Sum Tree-GRU cell: the GRU of Cho et al. (2014) summed over children the way
    the Child-Sum Tree-LSTM is, with one reset gate per child:

    .. math::
        \tilde h_j &= \textstyle\sum_{k \in C(j)} h_k \\
        z_j &= \sigma(W^{(z)} x_j + U^{(z)} \tilde h_j + b^{(z)}) \\
        r_{jk} &= \sigma(W^{(r)} x_j + U^{(r)} h_k + b^{(r)}) \\
        \hat h_j &= \tanh(W^{(h)} x_j + U^{(h)} \textstyle\sum_{k \in C(j)} r_{jk} \odot h_k + b^{(h)}) \\
        h_j &= (1 - z_j) \odot \hat h_j + z_j \odot \tilde h_j

    It carries one state, ``h``; :class:`~treelstm.TreeLSTM` returns ``c = None`` for it.

    Parameters:
        W: ``(3H, input_size)``, rows :math:`W^{(z)}, W^{(h)}, W^{(r)}`.
        U_z, U_h, U_r: ``(H, H)`` each.
        b: ``(3H,)``.
    """

    state_names = ("h",)
    per_child_gate = "r"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, ("z", "h", "r"))
        self.U_z = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.U_h = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.U_r = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.reset_parameters()

    def forward(
        self, wx: Tensor, children: tuple[Tensor], parent: Tensor, slot: Tensor, return_gates: bool = False
    ) -> tuple[tuple[Tensor], Gates | None]:
        (h_k,) = children
        n = wx.shape[0]
        wx_z, wx_h, wx_r = wx.chunk(3, dim=1)
        h_tilde = _sum_children(h_k, parent, n)
        r = torch.sigmoid(wx_r.index_select(0, parent) + h_k @ self.U_r.T)
        z = torch.sigmoid(wx_z + h_tilde @ self.U_z.T)
        h_hat = torch.tanh(wx_h + _sum_children(r * h_k, parent, n) @ self.U_h.T)
        h = (1 - z) * h_hat + z * h_tilde
        return (h,), ({"z": z, "h_hat": h_hat, "r": r} if return_gates else None)
