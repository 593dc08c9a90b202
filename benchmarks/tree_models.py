"""The contenders of the Tree-LSTM speed benchmarks, as one interface: ``collate(trees)`` then ``loss(batch)``.

Every contender embeds each node's word (a 300-d table, row 0 for nodes without a word), runs a
recurrent model with hidden size 150 over every node, puts a 5-way softmax on every node and
returns the summed cross-entropy of the labelled nodes divided by the number of trees, the
sentiment task's loss. What differs is how the recurrent part runs:

* ``fast``: :class:`treelstm.TreeLSTM` in its fast mode (level schedule; the LSTM cells' level loop
  as one autograd Function with a hand-written backward; only nodes with a word projected), as
  :class:`treelstm.models.sentence.SentenceEncoder` runs it;
* ``dgl``: the same cell in ``mode="dgl"``: ``dgl.prop_nodes`` over the topological frontiers with
  message and reduce functions, the way DGL's own Tree-LSTM example runs;
* ``recursion``: one tree at a time, each node computed after its children by a recursive
  Python function calling the same cell on that one node, the way the common PyTorch ports
  (e.g. treelstm.pytorch) run;
* ``nn.LSTM``: ``torch.nn.LSTM`` over the same trees read as sequences of as many tokens as they
  have nodes (packed, so no padding is computed): the fused sequential model, the speed limit.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_sequence

from treelstm import ChildSumTreeLSTMCell, NaryTreeLSTMCell, TreeLSTM
from treelstm.models.batch import TreeBatch
from treelstm.text.embeddings import Vocabulary
from treelstm.trees import Tree

CONTENDERS = ("fast", "dgl", "recursion", "nn.LSTM")


def make_cell(kind: str, x: int, h: int) -> nn.Module:
    return {"nary": lambda: NaryTreeLSTMCell(x, h, n_ary=2), "childsum": lambda: ChildSumTreeLSTMCell(x, h)}[kind]()


@dataclass
class Labelled:
    """What a contender's ``loss`` needs: its own collated input and the node labels in its row order."""

    inputs: object
    labels: Tensor
    num_trees: int


class Contender(nn.Module):
    """Embedding, a recurrent model over every node, a 5-way softmax on every node."""

    def __init__(self, name: str, vocab: Vocabulary, cell: str, x: int = 300, h: int = 150, sparse: bool = True):
        super().__init__()
        self.name, self.vocab = name, vocab
        self.embedding = nn.Embedding(len(vocab), x, padding_idx=0, sparse=sparse)
        if name == "nn.LSTM":
            self.lstm = nn.LSTM(x, h)
        else:
            self.tree = TreeLSTM(make_cell(cell, x, h), mode="dgl" if name == "dgl" else "fast")
        self.classifier = nn.Linear(h, 5)

    def collate(self, trees: Sequence[Tree], labels: Sequence[np.ndarray]) -> Labelled:
        node_labels = [torch.from_numpy(np.asarray(l, dtype=np.int64)) for l in labels]
        if self.name == "nn.LSTM":
            ids = [torch.tensor([self.vocab[t] if t is not None else 0 for t in tree.tokens]) for tree in trees]
            packed = pack_sequence(ids, enforce_sorted=False)
            return Labelled(packed, pack_sequence(node_labels, enforce_sorted=False).data, len(trees))
        if self.name == "recursion":
            return Labelled([_RecursiveTree.of(tree, self.vocab) for tree in trees], torch.cat(node_labels), len(trees))
        return Labelled(TreeBatch.of(trees, self.vocab), torch.cat(node_labels), len(trees))

    def node_states(self, inputs) -> Tensor:
        """``(N, h)``: every node's hidden state, rows in the order of the collated labels."""
        if self.name == "nn.LSTM":
            x = PackedSequence(self.embedding(inputs.data), inputs.batch_sizes, inputs.sorted_indices, inputs.unsorted_indices)
            return self.lstm(x)[0].data
        if self.name == "recursion":
            return torch.cat([tree.run(self.tree.cell, self.embedding) for tree in inputs])
        ids, word_nodes = inputs.token_ids, inputs.word_nodes  # as treelstm.models.sentence.SentenceEncoder runs it
        if word_nodes is not None:
            ids = ids.index_select(0, word_nodes)
        return self.tree(inputs.graph, self.embedding(ids), inputs.schedule, x_nodes=word_nodes).h

    def loss(self, batch: Labelled) -> Tensor:
        logits = self.classifier(self.node_states(batch.inputs))
        return F.cross_entropy(logits, batch.labels, ignore_index=-1, reduction="sum") / batch.num_trees


@dataclass
class _RecursiveTree:
    """One tree for the recursive contender: token ids and each node's children, in slot order."""

    ids: Tensor
    children: list[list[int]]
    root: int

    @classmethod
    def of(cls, tree: Tree, vocab: Vocabulary) -> "_RecursiveTree":
        children: list[list[int]] = [[] for _ in range(tree.num_nodes)]
        for k in np.lexsort((tree.slots, tree.parents)):
            if tree.parents[k] >= 0:
                children[tree.parents[k]].append(int(k))
        ids = torch.tensor([vocab[t] if t is not None else 0 for t in tree.tokens])
        return cls(ids, children, tree.root)

    def run(self, cell: nn.Module, embedding: nn.Embedding) -> Tensor:
        """Every node's ``h`` ``(n, H)`` in node order, computed by recursion from the root."""
        x = embedding(self.ids)
        h: list[Tensor | None] = [None] * len(self.ids)
        c: list[Tensor | None] = [None] * len(self.ids)
        empty = x.new_zeros(0, cell.hidden_size)

        def visit(j: int) -> None:
            kids = self.children[j]
            for k in kids:
                visit(k)
            children = (torch.cat([h[k] for k in kids]), torch.cat([c[k] for k in kids])) if kids else (empty, empty)
            index = torch.zeros(len(kids), dtype=torch.long)
            (h[j], c[j]), _ = cell(cell.project(x[j : j + 1]), children, index, torch.arange(len(kids)))

        visit(self.root)
        return torch.cat(h)


def optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """Adagrad at the paper's lr 0.05 (sparse rows for a sparse table), as the SST config trains."""
    return torch.optim.Adagrad(model.parameters(), lr=0.05)


def train_step(model: Contender, opt: torch.optim.Optimizer) -> Callable[[Labelled], float]:
    def step(batch: Labelled) -> float:
        opt.zero_grad(set_to_none=True)
        loss = model.loss(batch)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def infer_step(model: Contender) -> Callable[[Labelled], None]:
    @torch.no_grad()
    def step(batch: Labelled) -> None:
        model.classifier(model.node_states(batch.inputs)).argmax(1)

    return step


sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
