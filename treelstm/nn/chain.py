"""ChainLSTM: multi-layer, bidirectional LSTM over sentences given as DGL chain graphs.

A :class:`torch.nn.LSTM` (a subclass) that reads its sentences from chain graphs: the forward
direction follows the chains' edges (``t - 1 -> t``, see :func:`treelstm.trees.chain`), the
backward direction the same edges reversed. Its parameters are ``torch.nn.LSTM``'s own, same
names, shapes and gate order (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``, suffix ``_reverse`` for the backward direction; row blocks ``i, f, g, o``),
so state dicts load both ways between the two classes.

Each layer and direction is a :class:`~treelstm.nn.cells.ChainLSTMCell` (the N-ary Tree-LSTM cell
with one child, the predecessor) whose ``W``, ``U`` are ``weight_ih``, ``weight_hh`` with their
row blocks in the cell's order ``i, o, u, f`` (torch's ``g`` is the cell's ``u``) and whose
``b`` is ``bias_ih + bias_hh``. The cell has one bias, so ``bias_hh`` starts at zero and is
frozen (``requires_grad=False``): ``bias_ih`` alone is trained, as the cell's ``b`` was. A
loaded ``bias_hh`` is used as it is; ``requires_grad_(True)`` trains it too, as in torch.

Two paths compute the same function:

* ``fused=True`` (default): ``torch.nn.LSTM.forward`` on a packed sequence of the chains,
  torch's fused kernel on the parameters as they are (no copies).
* ``fused=False``: the cells, level by level, like any Tree-LSTM (:func:`~treelstm.nn.encoder.run_levels`,
  which hands the loop to :mod:`treelstm.nn.fused_levels`' hand-written backward), on the weights
  reordered to the cells' rows (one copy per call; gradients flow back to the parameters).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from treelstm._dgl import dgl
from treelstm.nn._checks import check_graph, check_schedule, check_tensor, parameter_of
from treelstm.nn.cells import ChainLSTMCell
from treelstm.nn.encoder import run_levels
from treelstm.trees.schedule import LevelSchedule

__all__ = ["ChainLSTM"]

# torch.nn.LSTM's row blocks (i, f, g, o) are the cell's blocks (i, o, u, f) number 0, 3, 2, 1, and
# the other way round: the permutation is its own inverse.
_BLOCKS = (0, 3, 2, 1)


class ChainLSTM(nn.LSTM):
    r"""LSTM over a batch of chains, with the constructor and parameters of ``torch.nn.LSTM``.

    Args:
        input_size: size of each token's input.
        hidden_size: size :math:`H` of the states.
        num_layers: stacked layers; layer :math:`l > 0` reads layer :math:`l - 1`'s output.
        bidirectional: add a backward direction; outputs are ``[forward, backward]``.
        dropout: dropout on each layer's output except the last (training only).
        fused: run torch's fused kernel, else the cells level by level (see the module docstring).

    Parameters: those of ``torch.nn.LSTM(input_size, hidden_size, num_layers,
    bidirectional=bidirectional)``; ``bias_hh_l*`` zero and frozen (see the module docstring).
    They are drawn as the cells draw theirs: Uniform(-1/sqrt(H), 1/sqrt(H)), for each layer and
    direction ``W``, ``b``, ``U`` in the cells' gate order, then put in torch's.

    Inputs:
        graph: a DGLGraph of chains, edges ``t - 1 -> t`` (e.g. :func:`treelstm.trees.batch`
            of :func:`treelstm.trees.chain` trees, or ``dgl.batch`` of their graphs).
        x: ``(N, input_size)`` every token's input.
        schedule: the graph's :class:`~treelstm.trees.schedule.LevelSchedule`, if already computed.

    Outputs: ``output, (h_n, c_n)``
        output: ``(N, D*H)`` the last layer's states at every token (``D = 2`` if bidirectional).
        h_n, c_n: ``(num_layers*D, B, H)`` the final states of each of the ``B`` chains, as
            ``torch.nn.LSTM`` returns them; chains in the order of their last token's node id
            (for a batch of chains, the batch order).

    Raises:
        TypeError: ``graph`` not a DGLGraph, ``x`` not a tensor.
        ValueError: ``x`` not ``(num_nodes, input_size)`` in the parameters' dtype and on their device
            (on both paths: never a silently wrong result), a graph that is not chains.

    Example:
        >>> import torch
        >>> from treelstm import ChainLSTM, trees
        >>> graph = trees.batch([trees.chain(5), trees.chain(3)])
        >>> output, (h_n, c_n) = ChainLSTM(50, 20, bidirectional=True)(graph, torch.randn(8, 50))
        >>> output.shape, h_n.shape
        (torch.Size([8, 40]), torch.Size([2, 2, 20]))
        >>> lstm = torch.nn.LSTM(50, 20, bidirectional=True)
        >>> lstm.load_state_dict(ChainLSTM(50, 20, bidirectional=True).state_dict())
        <All keys matched successfully>
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        fused: bool = True,
    ):
        if num_layers < 1:
            raise ValueError(f"ChainLSTM: num_layers must be at least 1, got {num_layers}")
        if fused not in (True, False):
            raise ValueError(f"ChainLSTM: fused must be True or False, got {fused!r}")
        with warnings.catch_warnings():  # a one-layer ChainLSTM ignores its dropout without a word
            warnings.filterwarnings("ignore", "dropout option adds dropout", UserWarning)
            super().__init__(input_size, hidden_size, num_layers, bidirectional=bidirectional, dropout=dropout)
        self.fused = fused
        for names in self._all_weights:
            getattr(self, names[3]).requires_grad_(False)  # bias_hh: the cells have one bias

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) as :class:`~treelstm.nn.cells.ChainLSTMCell` draws it, in
        the same order (layer by layer, forward then backward: ``W``, ``b``, ``U`` in the cells'
        rows), so a seed gives the same model as the cells did; ``bias_hh`` zero."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for names in self._all_weights:
                w_ih, w_hh, b_ih, b_hh = (getattr(self, name) for name in names)
                for weight in (w_ih, b_ih, w_hh):  # the cell's W, b, U
                    drawn = torch.empty_like(weight).uniform_(-bound, bound)
                    weight.copy_(drawn.index_select(0, _rows(self.hidden_size, weight.device)))
                b_hh.zero_()

    @classmethod
    def from_lstm(cls, lstm: nn.LSTM, fused: bool = True) -> ChainLSTM:
        """A ChainLSTM computing exactly what ``lstm`` computes: its configuration and a copy
        of its parameters (the same as ``load_state_dict(lstm.state_dict())``)."""
        if lstm.proj_size or not lstm.bias:
            raise ValueError("only torch.nn.LSTM with biases and without projections can be converted")
        chain = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional, lstm.dropout, fused)
        chain.to(next(lstm.parameters()))
        chain.load_state_dict(lstm.state_dict())
        return chain

    def cell_parameters(self, layer: int, direction: int = 0) -> dict[str, Tensor]:
        """The :class:`~treelstm.nn.cells.ChainLSTMCell` parameters ``W``, ``U``, ``b`` of a layer and
        direction (0 forward, 1 backward), computed from this module's (gradients flow back)."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        kinds = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        w_ih, w_hh, b_ih, b_hh = (getattr(self, kind + suffix) for kind in kinds)
        rows = _rows(self.hidden_size, w_ih.device)
        return {"W": w_ih[rows], "U": w_hh[rows], "b": (b_ih + b_hh)[rows]}

    def cell(self, layer: int, direction: int = 0) -> ChainLSTMCell:
        """A :class:`~treelstm.nn.cells.ChainLSTMCell` with a copy of a layer and direction's weights,
        e.g. for its gates: ``TreeLSTM(chain.cell(0))(graph, x, return_gates=True)``."""
        weight = getattr(self, f"weight_ih_l{layer}")
        with torch.device("meta"):  # no random draws for parameters about to be replaced
            cell = ChainLSTMCell(weight.shape[1], self.hidden_size)
        cell.to_empty(device=weight.device).to(weight.dtype)
        with torch.no_grad():
            for name, value in self.cell_parameters(layer, direction).items():
                getattr(cell, name).copy_(value)
        return cell

    def forward(self, graph: dgl.DGLGraph, x: Tensor, schedule: LevelSchedule | None = None):  # type: ignore[override]
        check_graph("ChainLSTM", graph)
        check_schedule("ChainLSTM", schedule, graph)
        dims = [("num_nodes", graph.num_nodes()), ("input_size", self.input_size)]
        check_tensor("ChainLSTM", "x", x, dims, parameter_of(self))
        schedule = schedule or LevelSchedule.from_graph(graph)
        if schedule.max_children > 1:
            raise ValueError(
                "ChainLSTM: graph must be chains (edges t - 1 -> t, e.g. treelstm.trees.chains(lengths)), "
                "got a node with several children"
            )
        return self._fused(x, schedule) if self.fused else self._by_cells(x, schedule)

    def _by_cells(self, x: Tensor, schedule: LevelSchedule):
        D = 2 if self.bidirectional else 1
        level = schedule.level.numpy()
        last = [np.flatnonzero(schedule.parent_of.numpy() < 0)]  # each chain's last token, by id
        if D == 2:  # the backward direction ends on each chain's first token
            firsts = np.flatnonzero(level == 0)
            last.append(firsts[np.argsort(schedule.root_of.numpy()[firsts])])
        ends = [torch.from_numpy(e).to(x.device) for e in last]
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer:
                x = F.dropout(x, self.dropout, self.training)
            levels = self._levels(x.shape[1])
            outputs = []
            for direction, plan in enumerate([schedule, schedule.reverse()][:D]):
                params = {f"cell.{name}": value for name, value in self.cell_parameters(layer, direction).items()}
                h, c = torch.func.functional_call(levels, params, (x, plan))
                outputs.append(h)
                h_n.append(h.index_select(0, ends[direction]))
                c_n.append(c.index_select(0, ends[direction]))
            x = torch.cat(outputs, dim=1)
        return x, (torch.stack(h_n), torch.stack(c_n))

    def _levels(self, input_size: int) -> _Levels:
        """A cell on the meta device run over a schedule: the cells' structure, without parameters
        of its own (they come from ours through functional_call). Kept out of the module tree."""
        templates = self.__dict__.setdefault("_templates", {})
        if input_size not in templates:
            with torch.device("meta"):
                templates[input_size] = _Levels(ChainLSTMCell(input_size, self.hidden_size))
        return templates[input_size]

    def _fused(self, x: Tensor, schedule: LevelSchedule):
        order, batch_sizes, packing, chain_rank, unpack = _packed_layout(schedule, x.device)
        packed = PackedSequence(x.index_select(0, order), batch_sizes, packing, chain_rank)
        output, (h_n, c_n) = super().forward(packed)  # h_n, c_n in chain order: torch applies chain_rank
        return output.data.index_select(0, unpack), (h_n, c_n)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, fused={self.fused}"
        )


class _Levels(nn.Module):
    """A cell run over a level schedule, for :func:`torch.func.functional_call` with the cell's parameters."""

    def __init__(self, cell: ChainLSTMCell):
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor, plan: LevelSchedule) -> tuple[Tensor, ...]:
        return run_levels(self.cell, x, plan)[0]


def _rows(hidden_size: int, device: torch.device) -> Tensor:
    """Row order taking torch.nn.LSTM's gate blocks (i, f, g, o) to the cell's (i, o, u, f), and back."""
    return torch.cat([torch.arange(hidden_size, device=device) + hidden_size * k for k in _BLOCKS])


def _packed_layout(schedule: LevelSchedule, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Node order of a packed sequence of the chains, as ``torch.nn.LSTM`` wants it; computed once per
    schedule and device (cached with the schedule, so a batch collated once pays for it once).

    Returns:
        order: ``(N,)`` node ids, time step by time step, chains longest first.
        batch_sizes: ``(T,)`` chains still running at each time step (CPU int64).
        packing: ``(B,)`` the chains (by their last token's id) in packed order, longest first.
        chain_rank: ``(B,)`` for each chain (by its last token's id) its place in the packing.
        unpack: ``(N,)`` each node's row in ``order`` (the inverse permutation).
    All but ``batch_sizes`` on ``device``.
    """
    key = ("packed-layout", torch.device(device))
    if key not in schedule._cache:
        level, root = schedule.level.numpy(), schedule.root_of.numpy()
        length = level[root] + 1  # the root of a chain is its last token
        order = np.lexsort((root, -length, level))
        roots = np.flatnonzero(schedule.parent_of.numpy() < 0)
        packing = np.lexsort((roots, -length[roots]))  # chains, longest first
        chain_rank = np.empty_like(packing)
        chain_rank[packing] = np.arange(len(packing))
        unpack = np.empty_like(order)
        unpack[order] = np.arange(len(order))
        batch_sizes = torch.from_numpy(np.bincount(level))
        moved = [torch.from_numpy(a).to(device) for a in (order, packing, chain_rank, unpack)]
        schedule._cache[key] = (moved[0], batch_sizes, moved[1], moved[2], moved[3])
    return schedule._cache[key]
