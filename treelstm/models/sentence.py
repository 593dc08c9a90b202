"""SentenceEncoder: words -> embeddings -> a Tree-LSTM or chain LSTM -> node and sentence vectors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treelstm.models.batch import TreeBatch
from treelstm.nn._checks import type_name
from treelstm.nn.attentive import AttentiveChildSumTreeLSTMCell
from treelstm.nn.cells import ChildSumTreeGRUCell, ChildSumTreeLSTMCell, LinearLeafNaryTreeLSTMCell, NaryTreeLSTMCell
from treelstm.nn.chain import ChainLSTM
from treelstm.nn.encoder import TreeLSTM
from treelstm.trees import chains

__all__ = ["SentenceEncoder"]


class SentenceEncoder(nn.Module):
    """Embeds each node's word and runs a recurrent model over the batch's trees or chains.

    Args:
        embedding: the word table (row 0, ``<pad>``, is the input of nodes without a word).
        cell: ``"childsum"``, ``"nary"`` (binary), ``"childsum-gru"`` (Tree-LSTM/GRU over trees),
            ``"childsum-attentive"`` (the attentive Child-Sum Tree-LSTM of Zhou, Liu & Pan 2016, over
            pairs: below) or ``"lstm"`` (a :class:`~treelstm.nn.chain.ChainLSTM` over chains).
        hidden_size, num_layers, bidirectional: the recurrent model's sizes (layers and
            directions for ``"lstm"`` only).
        output_gate: Tree-LSTM cells only.
        all_layers: chains only: the sentence vector joins the final states of every layer,
            not only the last one's.
        embedding_dropout: dropout on the word vectors ``x`` ``(words, embedding_dim)`` while
            training (0: none, and no random numbers drawn).
        leaf: ``"nary"`` only: ``"gated"`` (the paper's equations at leaves) or ``"linear"`` (the
            reference code's leaf module, :class:`~treelstm.nn.cells.LinearLeafNaryTreeLSTMCell`).

    Outputs of ``forward(batch)``: ``(nodes, sentences)`` -- every node's vector ``(N, node_size)``
    and each tree's ``(B, out_size)``: the root's ``h`` for trees; for chains the last layer's
    (or every layer's) final states, forward and backward concatenated. ``forward(batch,
    return_gates=True)`` (tree cells only) adds the gates, ``{name: (N, H)}`` as
    :class:`~treelstm.TreeLSTM` returns them.

    ``"childsum-attentive"`` reads a batch of pairs: its first ``B/2`` texts are the first texts,
    the last ``B/2`` their partners, in the same order (as :class:`~treelstm.runner.text_tasks.PairTask`
    collates them). A chain LSTM (``guide``, hidden size ``H``) reads each text's words in node order
    (the word order of dependency trees) to its final state :math:`r`; each text's tree is then
    encoded by :class:`~treelstm.nn.attentive.AttentiveChildSumTreeLSTMCell` with its partner's
    :math:`r` as the attention key. Every node must have a word (no constituency trees).
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
        embedding_dropout: float = 0.0,
        leaf: str = "gated",
    ):
        super().__init__()
        if not isinstance(embedding, nn.Embedding):
            raise TypeError(f"SentenceEncoder: embedding must be a torch.nn.Embedding, got {type_name(embedding)}")
        if cell != "lstm" and all_layers:
            raise ValueError(
                f"SentenceEncoder: all_layers=True is for cell 'lstm' (layers of a chain), got cell {cell!r}"
            )
        if cell in ("lstm", "childsum-gru") and not output_gate:
            raise ValueError(f"SentenceEncoder: output_gate=False is for the Tree-LSTM cells (childsum, nary, "
                             f"childsum-attentive), got cell {cell!r}")
        if leaf not in ("gated", "linear") or (leaf == "linear" and cell != "nary"):
            raise ValueError(f"SentenceEncoder: leaf must be 'gated' or 'linear' (cell 'nary' only), got leaf={leaf!r} "
                             f"with cell {cell!r}")
        if not 0 <= embedding_dropout < 1:
            raise ValueError(f"SentenceEncoder: embedding_dropout must be in [0, 1), got {embedding_dropout!r}")
        self.embedding, self.cell_name, self.all_layers = embedding, cell, all_layers
        self.embedding_dropout = embedding_dropout
        dim = embedding.embedding_dim
        if cell == "lstm":
            self.recurrent = ChainLSTM(dim, hidden_size, num_layers=num_layers, bidirectional=bidirectional)
            self.node_size = hidden_size * (2 if bidirectional else 1)
            self.out_size = self.node_size * (num_layers if all_layers else 1)
            return
        if num_layers != 1 or bidirectional:
            raise ValueError(f"SentenceEncoder: cell {cell!r} runs over trees: num_layers must be 1 and bidirectional "
                             f"false, got num_layers={num_layers}, bidirectional={bidirectional}")
        nary = LinearLeafNaryTreeLSTMCell if leaf == "linear" else NaryTreeLSTMCell
        cells = {
            "childsum": lambda: ChildSumTreeLSTMCell(dim, hidden_size, output_gate=output_gate),
            "nary": lambda: nary(dim, hidden_size, n_ary=2, output_gate=output_gate),
            "childsum-gru": lambda: ChildSumTreeGRUCell(dim, hidden_size),
            "childsum-attentive": lambda: AttentiveChildSumTreeLSTMCell(dim, hidden_size, hidden_size, output_gate),
        }
        if cell not in cells:
            raise ValueError(f"SentenceEncoder: cell must be one of {', '.join([*cells, 'lstm'])}, got {cell!r}")
        if cell == "childsum-attentive":
            self.guide = ChainLSTM(dim, hidden_size)
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
            x = self._embed(batch.token_ids)
            nodes, (h_n, _) = self.recurrent(batch.graph, x, batch.schedule)
            D = 2 if self.recurrent.bidirectional else 1
            return nodes, torch.cat(list(h_n if self.all_layers else h_n[-D:]), dim=1)
        if self.cell_name == "childsum-attentive":
            return self._attentive(batch, return_gates)
        ids, word_nodes = batch.token_ids, batch.word_nodes
        if word_nodes is not None:  # only the nodes with a word have an input (e.g. constituency leaves)
            ids = ids.index_select(0, word_nodes)
        x = self._embed(ids)
        out = self.recurrent(batch.graph, x, batch.schedule, return_gates=return_gates, x_nodes=word_nodes,
                             x_at_leaves=batch.words_at_leaves)
        h = out.h
        sentences = h.index_select(0, batch.roots.to(h.device))
        return (h, sentences, out.gates) if return_gates else (h, sentences)

    def _attentive(self, batch: TreeBatch, return_gates: bool) -> tuple[Tensor, ...]:
        """Each text's tree encoded with its partner's guide state as the attention key."""
        B = batch.num_trees
        if B % 2 or batch.word_nodes is not None:
            raise ValueError(f"SentenceEncoder: cell 'childsum-attentive' reads pairs of texts with a word at every "
                             f"node; got {B} trees" + ("" if batch.word_nodes is None else " with nodes without a word"))
        x = self._embed(batch.token_ids)  # (N, dim), node order: each text's words in order
        sizes = batch.graph.batch_num_nodes()
        _, (r, _) = self.guide(chains(sizes.tolist()), x)  # r: (1, B, H), each text's final state
        partner = r[0].roll(B // 2, dims=0)  # text b's key: the other text of its pair
        tree_of = torch.repeat_interleave(torch.arange(B), sizes).to(x.device)
        out = self.recurrent(batch.graph, torch.cat([x, partner.index_select(0, tree_of)], dim=1), batch.schedule,
                             return_gates=return_gates)
        sentences = out.h.index_select(0, batch.roots.to(out.h.device))
        return (out.h, sentences, out.gates) if return_gates else (out.h, sentences)

    def _embed(self, ids: Tensor) -> Tensor:
        """The word vectors of ``ids`` ``(n,)``: ``(n, embedding_dim)``, with dropout while training."""
        x = self.embedding(ids.to(self.embedding.weight.device))
        return F.dropout(x, self.embedding_dropout, self.training) if self.embedding_dropout else x

    def extra_repr(self) -> str:
        layers = ", all_layers=True" if self.all_layers else ""
        dropout = f", embedding_dropout={self.embedding_dropout}" if self.embedding_dropout else ""
        return f"cell={self.cell_name!r}, node_size={self.node_size}, out_size={self.out_size}{layers}{dropout}"
