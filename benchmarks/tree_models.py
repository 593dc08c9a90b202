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
  have nodes (packed, so no padding is computed): the fused sequential model, the speed limit;
* ``dynet`` (optional: only when ``dynet`` is importable, PyPI ``dyNET38``): the N-ary (binary)
  Tree-LSTM written with DyNet's Python API, one expression graph per batch built tree by tree, node
  by node, and DyNet's automatic operation batching (``autobatch=1``) grouping the same operations
  across nodes and trees, as DyNet's own Tree-LSTM example runs. Its leaves project the word with the
  ``i, o, u`` rows only; internal nodes have no word. N-ary cell only (SST); :class:`DyNetContender`.
"""

from __future__ import annotations

import importlib.util
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
OPTIONAL = ("dynet",)
"""Contenders that run only when their package is importable (:func:`available`)."""


def available(name: str) -> bool:
    """Whether contender ``name`` can run here (``dynet`` needs PyPI ``dyNET38``)."""
    return name != "dynet" or importlib.util.find_spec("dynet") is not None


def make(name: str, vocab: Vocabulary, cell: str, x: int = 300, h: int = 150):
    """Contender ``name``: a :class:`Contender` (torch) or a :class:`DyNetContender`, each with
    ``collate``, and run by :func:`steps`."""
    return DyNetContender(vocab, cell, x, h) if name == "dynet" else Contender(name, vocab, cell, x, h)


def steps(model, train: bool) -> Callable:
    """The training step (forward, backward, Adagrad) or the inference step of a contender."""
    if isinstance(model, DyNetContender):
        return model.train_step if train else model.infer_step
    return train_step(model, optimizer(model)) if train else infer_step(model)


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


def optimizer(model: nn.Module) -> "Optimizers":
    """Adagrad at the paper's lr 0.05 (sparse rows for a sparse table), as the SST config trains: torch's
    fused Adagrad kernel (``fused=True``, one pass over each weight) for the dense weights, the plain one
    for a sparse word table (the fused kernel takes dense gradients only)."""
    sparse = [p for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse for p in m.parameters()]
    dense = [p for p in model.parameters() if all(p is not q for q in sparse)]
    if sparse:  # as training does: say it explicitly, or torch warns that its sparse invariant checks are off
        torch.sparse.check_sparse_tensor_invariants.disable()
    return Optimizers([torch.optim.Adagrad(dense, lr=0.05, fused=True)]
                      + ([torch.optim.Adagrad(sparse, lr=0.05)] if sparse else []))


class Optimizers:
    """Several optimizers stepped as one."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = optimizers

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()


def train_step(model: Contender, opt: "Optimizers") -> Callable[[Labelled], float]:
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


_DYNET = None


def _dynet():
    """DyNet, configured before its first import: automatic operation batching on, a fixed seed."""
    global _DYNET
    if _DYNET is None:
        import dynet_config

        dynet_config.set(mem="1024", random_seed=1, autobatch=1)
        import dynet

        _DYNET = dynet
    return _DYNET


class DyNetContender:
    """The N-ary (binary) Tree-LSTM of :class:`treelstm.NaryTreeLSTMCell` in DyNet, from its public API.

    Same model as the ``fast`` contender: a 300-d word table (DyNet lookup parameters: sparse
    updates of the rows a batch used), ``W`` on the leaves' words (the ``i, o, u`` rows: a leaf has
    no children to forget), ``U [h_l; h_r] + b`` on internal nodes (``b`` on the leaves), a 5-way
    softmax on every node, the summed negative log-likelihood divided by the number of trees,
    Adagrad at lr 0.05. Each batch is one computation graph built node by node (children first);
    DyNet's autobatching runs the same operations of all nodes and trees together.
    """

    def __init__(self, vocab: Vocabulary, cell: str, x: int = 300, h: int = 150):
        if cell != "nary":
            raise ValueError("the DyNet contender implements the N-ary (binary) cell only")
        dy = _dynet()
        self.vocab, self.h = vocab, h
        self.model = dy.ParameterCollection()
        self.E = self.model.add_lookup_parameters((len(vocab), x))
        self.W = self.model.add_parameters((3 * h, x))
        self.U = self.model.add_parameters((5 * h, 2 * h))
        self.b = self.model.add_parameters(5 * h)
        self.Wc = self.model.add_parameters((5, h))
        self.bc = self.model.add_parameters(5)
        self.trainer = dy.AdagradTrainer(self.model, learning_rate=0.05)

    def collate(self, trees: Sequence[Tree], labels: Sequence[np.ndarray]) -> list:
        """Per tree, its nodes children first: ``(word id or None, (left, right) or (), label)``."""
        out = []
        for tree, node_labels in zip(trees, labels):
            children: list[list[int]] = [[] for _ in range(tree.num_nodes)]
            for k in np.lexsort((tree.slots, tree.parents)):
                if tree.parents[k] >= 0:
                    children[tree.parents[k]].append(int(k))
            order: list[int] = []
            stack = [(tree.root, False)]
            while stack:  # post-order: children before their parent
                node, done = stack.pop()
                if done:
                    order.append(node)
                    continue
                stack.append((node, True))
                stack.extend((k, False) for k in reversed(children[node]))
            position = {node: k for k, node in enumerate(order)}
            out.append([(self.vocab[tree.tokens[j]] if not children[j] else None,
                         tuple(position[k] for k in children[j]), int(node_labels[j])) for j in order])
        return out

    def _logits(self, batch: list) -> list:
        """Build the batch's graph: every node's tag scores (with its label), tree by tree."""
        dy, H = _dynet(), self.h
        dy.renew_cg()
        W, U, b, Wc, bc = self.W, self.U, self.b, self.Wc, self.bc
        b_iou, b_all = dy.pick_range(b, 0, 3 * H), b
        out = []
        for nodes in batch:
            h, c = [], []
            for word, kids, label in nodes:
                if kids:
                    zero = [dy.zeros(H)] * (2 - len(kids))  # a missing child counts as zero state
                    g = dy.affine_transform([b_all, U, dy.concatenate([h[k] for k in kids] + zero)])
                    carried = dy.esum([dy.cmult(dy.logistic(dy.pick_range(g, (3 + l) * H, (4 + l) * H)), c[k])
                                       for l, k in enumerate(kids)])
                else:
                    g = dy.affine_transform([b_iou, W, dy.lookup(self.E, word)])
                    carried = None
                i, o = dy.logistic(dy.pick_range(g, 0, H)), dy.logistic(dy.pick_range(g, H, 2 * H))
                u = dy.tanh(dy.pick_range(g, 2 * H, 3 * H))
                cell = dy.cmult(i, u) if carried is None else dy.cmult(i, u) + carried
                h.append(dy.cmult(o, dy.tanh(cell)))
                c.append(cell)
                out.append((dy.affine_transform([bc, Wc, h[-1]]), label))
        return out

    def train_step(self, batch: list) -> float:
        dy = _dynet()
        losses = [dy.pickneglogsoftmax(logits, label) for logits, label in self._logits(batch) if label >= 0]
        loss = dy.esum(losses) * (1.0 / len(batch))
        value = loss.value()  # the forward, autobatched
        loss.backward()
        self.trainer.update()
        return value

    def infer_step(self, batch: list) -> None:
        dy = _dynet()
        scores = dy.concatenate_cols([scores for scores, _ in self._logits(batch)])
        np.argmax(scores.npvalue(), axis=0)  # the forward, autobatched


sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
