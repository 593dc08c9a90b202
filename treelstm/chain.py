"""ChainLSTM: multi-layer, bidirectional LSTM over sentences given as DGL chain graphs.

Each layer and direction is a :class:`~treelstm.cells.ChainLSTMCell` (the N-ary Tree-LSTM
cell with one child, the predecessor). The forward direction reads the chains' edges
(``t - 1 -> t``, see :func:`treelstm.trees.chain`), the backward direction the same edges
reversed. Two paths compute the same function:

* ``fused=True`` (default): torch's fused LSTM kernel (``torch.lstm`` over a packed
  sequence, what ``torch.nn.LSTM`` runs) on the cells' own parameters, reordered to
  torch's gate layout. Gradients flow back to the cells.
* ``fused=False``: the cells, level by level, like any Tree-LSTM (:func:`~treelstm.encoder.run_levels`,
  which hands the loop to :mod:`treelstm.fused_levels`' hand-written backward).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treelstm._dgl import dgl
from treelstm.cells import ChainLSTMCell
from treelstm.encoder import run_levels
from treelstm.schedule import LevelSchedule

__all__ = ["ChainLSTM"]

_TORCH_GATES = ("i", "f0", "u", "o")  # torch.nn.LSTM's row blocks: i, f, g, o


class ChainLSTM(nn.Module):
    r"""LSTM over a batch of chains, with the constructor of ``torch.nn.LSTM``.

    Args:
        input_size: size of each token's input.
        hidden_size: size :math:`H` of the states.
        num_layers: stacked layers; layer :math:`l > 0` reads layer :math:`l - 1`'s output.
        bidirectional: add a backward direction; outputs are ``[forward, backward]``.
        dropout: dropout on each layer's output except the last (training only).
        fused: run torch's fused kernel on the cells' parameters (see the module docstring).

    Inputs:
        graph: a DGLGraph of chains, edges ``t - 1 -> t`` (e.g. :func:`treelstm.trees.batch`
            of :func:`treelstm.trees.chain` trees, or ``dgl.batch`` of their graphs).
        x: ``(N, input_size)`` every token's input.
        schedule: the graph's :class:`~treelstm.schedule.LevelSchedule`, if already computed.

    Outputs: ``output, (h_n, c_n)``
        output: ``(N, D*H)`` the last layer's states at every token (``D = 2`` if bidirectional).
        h_n, c_n: ``(num_layers*D, B, H)`` the final states of each of the ``B`` chains, as
            ``torch.nn.LSTM`` returns them; chains in the order of their last token's node id
            (for a batch of chains, the batch order).

    Example:
        >>> import torch
        >>> from treelstm import ChainLSTM, trees
        >>> graph = trees.batch([trees.chain(5), trees.chain(3)])
        >>> output, (h_n, c_n) = ChainLSTM(50, 20, bidirectional=True)(graph, torch.randn(8, 50))
        >>> output.shape, h_n.shape
        (torch.Size([8, 40]), torch.Size([2, 2, 20]))
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
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.dropout, self.fused = bidirectional, dropout, fused
        D = 2 if bidirectional else 1
        self.cells = nn.ModuleList(
            ChainLSTMCell(input_size if layer == 0 else D * hidden_size, hidden_size)
            for layer in range(num_layers)
            for _ in range(D)
        )

    @classmethod
    def from_lstm(cls, lstm: nn.LSTM, fused: bool = True) -> "ChainLSTM":
        """A ChainLSTM computing exactly what ``lstm`` computes (weights copied, ``b = b_ih + b_hh``)."""
        if lstm.proj_size or not lstm.bias:
            raise ValueError("only torch.nn.LSTM with biases and without projections can be converted")
        chain = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional, lstm.dropout, fused)
        chain.to(lstm.weight_ih_l0)
        with torch.no_grad():
            for cell, (w_ih, w_hh, b_ih, b_hh) in zip(chain.cells, _chunks(lstm._flat_weights, 4)):
                rows = _torch_rows(cell)
                cell.W[rows], cell.U[rows], cell.b[rows] = w_ih, w_hh, b_ih + b_hh
        return chain

    def forward(self, graph: dgl.DGLGraph, x: Tensor, schedule: LevelSchedule | None = None):
        schedule = schedule or LevelSchedule.from_graph(graph)
        if schedule.max_children > 1:
            raise ValueError("ChainLSTM needs chains, but a node of the graph has several children")
        if x.dim() != 2 or x.shape[0] != schedule.num_nodes:
            raise ValueError(f"x must be (num_nodes={schedule.num_nodes}, input_size), got {tuple(x.shape)}")
        return self._fused(x, schedule) if self.fused else self._by_cells(x, schedule)

    def _by_cells(self, x: Tensor, schedule: LevelSchedule):
        D = 2 if self.bidirectional else 1
        level = schedule.level.numpy()
        ends = [np.flatnonzero(schedule.parent_of.numpy() < 0)]  # each chain's last token, by id
        if D == 2:  # the backward direction ends on each chain's first token
            firsts = np.flatnonzero(level == 0)
            ends.append(firsts[np.argsort(schedule.root_of.numpy()[firsts])])
        ends = [torch.from_numpy(e).to(x.device) for e in ends]
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer:
                x = F.dropout(x, self.dropout, self.training)
            outputs = []
            for direction, plan in enumerate([schedule, schedule.reverse()][:D]):
                h, c = run_levels(self.cells[layer * D + direction], x, plan)[0]
                outputs.append(h)
                h_n.append(h.index_select(0, ends[direction]))
                c_n.append(c.index_select(0, ends[direction]))
            x = torch.cat(outputs, dim=1)
        return x, (torch.stack(h_n), torch.stack(c_n))

    def _fused(self, x: Tensor, schedule: LevelSchedule):
        order, batch_sizes, chain_rank = _packed_layout(schedule)
        D, H = 2 if self.bidirectional else 1, self.hidden_size
        weights = []
        for cell in self.cells:
            rows = _torch_rows(cell).to(x.device)
            b = cell.b.index_select(0, rows)
            weights += [cell.W.index_select(0, rows), cell.U.index_select(0, rows), b, torch.zeros_like(b)]
        zeros = x.new_zeros(self.num_layers * D, len(chain_rank), H)
        packed, h_n, c_n = torch.lstm(
            x.index_select(0, order.to(x.device)),
            batch_sizes,
            (zeros, zeros),
            weights,
            True,
            self.num_layers,
            float(self.dropout),
            self.training,
            self.bidirectional,
        )
        unpack = torch.empty_like(order)
        unpack[order] = torch.arange(len(order))
        chain_rank = chain_rank.to(x.device)
        return packed.index_select(0, unpack.to(x.device)), (h_n[:, chain_rank], c_n[:, chain_rank])

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, fused={self.fused}"
        )


def _torch_rows(cell: ChainLSTMCell) -> Tensor:
    """Rows of the cell's ``W``/``U``/``b`` in torch.nn.LSTM's gate order (i, f, g, o)."""
    H = cell.hidden_size
    return torch.cat([torch.arange(H) + H * cell.gate_names.index(g) for g in _TORCH_GATES])


def _chunks(items, size):
    return [items[k : k + size] for k in range(0, len(items), size)]


def _packed_layout(schedule: LevelSchedule) -> tuple[Tensor, Tensor, Tensor]:
    """Node order of a packed sequence of the chains, as ``torch.lstm`` wants it.

    Returns:
        order: ``(N,)`` node ids, time step by time step, chains longest first.
        batch_sizes: ``(T,)`` chains still running at each time step (CPU int64).
        chain_rank: ``(B,)`` for each chain (by its last token's id) its place in the packing.
    """
    level, root = schedule.level.numpy(), schedule.root_of.numpy()
    length = level[root] + 1  # the root of a chain is its last token
    order = np.lexsort((root, -length, level))
    roots = np.flatnonzero(schedule.parent_of.numpy() < 0)
    packing = np.lexsort((roots, -length[roots]))  # chains, longest first
    chain_rank = np.empty_like(packing)
    chain_rank[packing] = np.arange(len(packing))
    batch_sizes = torch.from_numpy(np.bincount(level))
    return torch.from_numpy(order), batch_sizes, torch.from_numpy(chain_rank)
