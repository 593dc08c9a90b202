r"""The attentive Child-Sum Tree-LSTM cell of Zhou, Liu & Pan (2016), "Modelling Sentence Pairs
with Tree-structured Attentive Encoder" (COLING).

A node does not sum its children's hidden states as the Child-Sum Tree-LSTM does: it weighs them by
an attention whose key :math:`r` is a vector from outside the tree -- for a sentence pair, the other
sentence's representation (:class:`~treelstm.models.sentence.SentenceEncoder` with cell
``"childsum-attentive"`` gives it: a chain LSTM's final state over the other sentence), so the pair
guides how each tree is composed.

The key reaches the cell through the node inputs: the encoder's input of node :math:`j` is
:math:`[x_j; r_j]` (``input_size = word_size + key_size``), and :meth:`~AttentiveChildSumTreeLSTMCell.project`
computes :math:`U^{(m)} r_j` once for every node beside :math:`W x_j + b`. So the cell keeps the
interface of every other cell (:class:`~treelstm.nn.cells.TreeCellProtocol`) and runs in both
propagation modes of :class:`~treelstm.TreeLSTM`, through autograd.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treelstm.nn.cells import Gates, TreeCell, _check_size, _lstm_update, _sum_children

__all__ = ["AttentiveChildSumTreeLSTMCell"]


class AttentiveChildSumTreeLSTMCell(TreeCell):
    r"""Child-Sum Tree-LSTM cell whose children are summed under an attention keyed by :math:`r_j`
    (Zhou, Liu & Pan 2016, Section 3).

    For node :math:`j` with children :math:`C(j)` and key :math:`r_j`:

    .. math::
        m_{jk} &= \tanh(W^{(m)} h_k + U^{(m)} r_j + b^{(m)}) \\
        \alpha_{jk} &= \frac{\exp(w^\top m_{jk})}{\sum_{k' \in C(j)} \exp(w^\top m_{jk'})} \\
        \tilde h_j &= \textstyle\sum_{k \in C(j)} \alpha_{jk} h_k \\
        i_j &= \sigma(W^{(i)} x_j + U^{(i)} \tilde h_j + b^{(i)}) \\
        f_{jk} &= \sigma(W^{(f)} x_j + U^{(f)} h_k + b^{(f)}) \\
        o_j &= \sigma(W^{(o)} x_j + U^{(o)} \tilde h_j + b^{(o)}) \\
        u_j &= \tanh(W^{(u)} x_j + U^{(u)} \tilde h_j + b^{(u)}) \\
        c_j &= i_j \odot u_j + \textstyle\sum_{k \in C(j)} f_{jk} \odot c_k \\
        h_j &= o_j \odot \tanh(c_j)

    A leaf has :math:`\tilde h_j = 0`. Without the output gate :math:`h_j = \tanh(c_j)`, as in the
    authors' code for their experiments. The forget gates see each child alone, as in the
    Child-Sum Tree-LSTM; only :math:`\tilde h_j` is attentive. The authors' code has no
    :math:`b^{(m)}`; with it, a node given no input (``TreeLSTM(..., x_nodes=...)``: a zero row
    :math:`[x_j; r_j] = 0`) has the projection ``b``, as in every :class:`~treelstm.nn.cells.TreeCell`.

    Args:
        input_size: size of :math:`x_j` (the word vector).
        hidden_size: size :math:`H` of :math:`h_j`, :math:`c_j` (and of :math:`m_{jk}`).
        key_size: size of :math:`r_j`.
        output_gate: keep the output gate.

    Attributes:
        word_size: ``input_size`` as given, the size of :math:`x_j`.
        input_size: ``word_size + key_size``: the encoder's node input is :math:`[x_j; r_j]`.

    Parameters:
        W: ``(G*H, word_size)``, rows :math:`W^{(i)}, W^{(o)}, W^{(u)}, W^{(f)}` (no ``o`` without the output gate).
        U: ``((G-1)*H, H)``, rows :math:`U^{(i)}, U^{(o)}, U^{(u)}`.
        U_f: ``(H, H)``, :math:`U^{(f)}`.
        b: ``((G+1)*H,)``: :math:`b^{(i)}, b^{(o)}, b^{(u)}, b^{(f)}, b^{(m)}`.
        W_m: ``(H, H)``, :math:`W^{(m)}`; U_m: ``(H, key_size)``, :math:`U^{(m)}`; w: ``(H,)``, :math:`w`.

    Gates (``return_gates=True``): ``i``, ``o``, ``u`` per node and ``f`` per child, as the
    Child-Sum cell's.

    Example:
        >>> import torch, treelstm
        >>> from treelstm.nn.attentive import AttentiveChildSumTreeLSTMCell
        >>> cell = AttentiveChildSumTreeLSTMCell(50, 30, key_size=30)
        >>> tree = treelstm.trees.from_parents("2 0 2")
        >>> x, r = torch.randn(3, 50), torch.randn(30)
        >>> out = treelstm.TreeLSTM(cell)(tree.graph, torch.cat([x, r.expand(3, 30)], dim=1))
        >>> out.h.shape
        torch.Size([3, 30])
    """

    def __init__(self, input_size: int, hidden_size: int, key_size: int, output_gate: bool = True):
        _check_size(type(self).__name__, "key_size", key_size)
        super().__init__(input_size, hidden_size, ("i", "o", "u", "f") if output_gate else ("i", "u", "f"))
        self.output_gate, self.key_size, self.word_size = output_gate, key_size, input_size
        self.input_size = input_size + key_size
        self.b = nn.Parameter(torch.empty((len(self.gate_names) + 1) * hidden_size))
        self.U = nn.Parameter(torch.empty((len(self.gate_names) - 1) * hidden_size, hidden_size))
        self.U_f = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.W_m = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.U_m = nn.Parameter(torch.empty(hidden_size, key_size))
        self.w = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{self.word_size}, {self.hidden_size}, key_size={self.key_size}, output_gate={self.output_gate}"

    def project(self, x: Tensor) -> Tensor:
        """``[W x_j + b; U^(m) r_j + b^(m)]`` for every node: ``(N, word_size + key_size) -> (N, (G+1)*H)``."""
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}.project: x must have input_size={self.input_size} features (the word's "
                f"{self.word_size} and the key's {self.key_size}), got shape {tuple(x.shape)}"
            )
        x_j, r_j = x.split([self.word_size, self.key_size], dim=-1)
        b, b_m = self.b.split([len(self.b) - self.hidden_size, self.hidden_size])
        return torch.cat([F.linear(x_j, self.W, b), F.linear(r_j, self.U_m, b_m)], dim=-1)

    def forward(
        self, wx: Tensor, children: tuple[Tensor, Tensor], parent: Tensor, slot: Tensor, return_gates: bool = False
    ) -> tuple[tuple[Tensor, Tensor], Gates | None]:
        h_k, c_k = children
        n, H = wx.shape[0], self.hidden_size
        wx_node, wx_f, ur = wx.split([wx.shape[1] - 2 * H, H, H], dim=1)
        if len(h_k):  # a level of leaves has no recurrent terms
            alpha = self.attention(h_k, ur, parent, n)
            wx_node = wx_node + _sum_children(alpha[:, None] * h_k, parent, n) @ self.U.T
        f = torch.sigmoid(wx_f.index_select(0, parent) + h_k @ self.U_f.T)
        (h, c), gates = _lstm_update(self, wx_node, _sum_children(f * c_k, parent, n))
        return (h, c), (gates | {"f": f} if return_gates else None)

    def attention(self, h_k: Tensor, ur: Tensor, parent: Tensor, n: int) -> Tensor:
        r"""The weights :math:`\alpha_{jk}` ``(m,)`` of a level's ``m`` children from their ``h_k``
        ``(m, H)`` and their parents' :math:`U^{(m)} r_j + b^{(m)}` ``(n, H)``: a softmax over each parent's children."""
        scores = torch.tanh(h_k @ self.W_m.T + ur.index_select(0, parent)) @ self.w
        # shifted by each parent's largest score for stability (softmax does not change; no gradient)
        top = scores.new_full((n,), -torch.inf).scatter_reduce(0, parent, scores.detach(), "amax")
        e = torch.exp(scores - top.index_select(0, parent))
        return e / e.new_zeros(n).index_add(0, parent, e).index_select(0, parent)
