"""SentenceEncoder: words -> embeddings -> a Tree-LSTM or chain LSTM -> node and sentence vectors."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treelstm.models.batch import TreeBatch
from treelstm.nn._checks import type_name
from treelstm.nn.cells import ChildSumTreeGRUCell, ChildSumTreeLSTMCell, NaryTreeLSTMCell
from treelstm.nn.chain import ChainLSTM
from treelstm.nn.encoder import TreeLSTM

__all__ = ["SentenceEncoder"]


class SentenceEncoder(nn.Module):
    """Embeds each node's word and runs a recurrent model over the batch's trees or chains.

    Args:
        embedding: the word table (row 0, ``<pad>``, is the input of nodes without a word).
        cell: ``"childsum"``, ``"nary"`` (binary), ``"childsum-gru"`` (Tree-LSTM/GRU over trees) or
            ``"lstm"`` (a :class:`~treelstm.nn.chain.ChainLSTM` over chains).
        hidden_size, num_layers, bidirectional: the recurrent model's sizes (layers and
            directions for ``"lstm"`` only).
        output_gate: Tree-LSTM cells only.
        all_layers: chains only: the sentence vector joins the final states of every layer,
            not only the last one's.

    Outputs of ``forward(batch)``: ``(nodes, sentences)`` -- every node's vector ``(N, node_size)``
    and each tree's ``(B, out_size)``: the root's ``h`` for trees; for chains the last layer's
    (or every layer's) final states, forward and backward concatenated. ``forward(batch,
    return_gates=True)`` (tree cells only) adds the gates, ``{name: (N, H)}`` as
    :class:`~treelstm.TreeLSTM` returns them.
    """

    def __init__(
        self,
        embedding: nn.Embedding,
        cell: str,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        output_gate: bool = True,
        all_layers: bool = False,
    ):
        super().__init__()
        if not isinstance(embedding, nn.Embedding):
            raise TypeError(f"SentenceEncoder: embedding must be a torch.nn.Embedding, got {type_name(embedding)}")
        if cell != "lstm" and all_layers:
            raise ValueError(
                f"SentenceEncoder: all_layers=True is for cell 'lstm' (layers of a chain), got cell {cell!r}"
            )
        if cell in ("lstm", "childsum-gru") and not output_gate:
            raise ValueError(f"SentenceEncoder: output_gate=False is for the Tree-LSTM cells (childsum, nary), "
                             f"got cell {cell!r}")
        self.embedding, self.cell_name, self.all_layers = embedding, cell, all_layers
        dim = embedding.embedding_dim
        if cell == "lstm":
            self.recurrent = ChainLSTM(dim, hidden_size, num_layers=num_layers, bidirectional=bidirectional)
            self.node_size = hidden_size * (2 if bidirectional else 1)
            self.out_size = self.node_size * (num_layers if all_layers else 1)
            return
        if num_layers != 1 or bidirectional:
            raise ValueError(f"SentenceEncoder: cell {cell!r} runs over trees: num_layers must be 1 and bidirectional "
                             f"false, got num_layers={num_layers}, bidirectional={bidirectional}")
        cells = {
            "childsum": lambda: ChildSumTreeLSTMCell(dim, hidden_size, output_gate=output_gate),
            "nary": lambda: NaryTreeLSTMCell(dim, hidden_size, n_ary=2, output_gate=output_gate),
            "childsum-gru": lambda: ChildSumTreeGRUCell(dim, hidden_size),
        }
        if cell not in cells:
            raise ValueError(f"SentenceEncoder: cell must be one of {', '.join([*cells, 'lstm'])}, got {cell!r}")
        self.recurrent = TreeLSTM(cells[cell]())
        self.node_size = self.out_size = hidden_size

    def forward(self, batch: TreeBatch, return_gates: bool = False) -> tuple[Tensor, ...]:
        if not isinstance(batch, TreeBatch):
            raise TypeError(
                f"SentenceEncoder: batch must be a TreeBatch (TreeBatch.of(trees, vocab)), got {type_name(batch)}"
            )
        if self.cell_name == "lstm":
            if return_gates:
                raise ValueError("SentenceEncoder: return_gates=True is for tree cells; this encoder is a chain LSTM")
            x = self.embedding(batch.token_ids.to(self.embedding.weight.device))
            nodes, (h_n, _) = self.recurrent(batch.graph, x, batch.schedule)
            D = 2 if self.recurrent.bidirectional else 1
            return nodes, torch.cat(list(h_n if self.all_layers else h_n[-D:]), dim=1)
        ids, word_nodes = batch.token_ids, batch.word_nodes
        if word_nodes is not None:  # only the nodes with a word have an input (e.g. constituency leaves)
            ids = ids.index_select(0, word_nodes)
        x = self.embedding(ids.to(self.embedding.weight.device))
        out = self.recurrent(batch.graph, x, batch.schedule, return_gates=return_gates, x_nodes=word_nodes)
        h = out.h
        sentences = h.index_select(0, batch.roots.to(h.device))
        return (h, sentences, out.gates) if return_gates else (h, sentences)

    def extra_repr(self) -> str:
        layers = ", all_layers=True" if self.all_layers else ""
        return f"cell={self.cell_name!r}, node_size={self.node_size}, out_size={self.out_size}{layers}"
