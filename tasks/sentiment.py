"""Sentiment classification on the Stanford Sentiment Treebank (Tai et al. 2015, Section 4.1, Table 2).

* Fine-grained: 5 classes, every sentence.
* Binary: sentences with a neutral root removed; trained with 3 classes (negative 0-1,
  neutral 2, positive 3-4) on every labelled node and predicted at the root as negative vs
  positive, as the reference implementation does.

Tree models put a softmax on every node and sum the loss over the labelled nodes (divided by
the number of sentences). Dependency trees come from spaCy parses of the sentences: a node is
labelled when its subtree covers exactly the words of a labelled constituent. Chain LSTMs are
trained and evaluated on the sentence label only. Metric: accuracy at the root.

Explaining (:meth:`Sentiment.explain_raw`): raw text is parsed by spaCy; a constituency model
reads the binarised dependency parse (:func:`treelstm.trees.binarize`, an approximation of
SST's trees), or an SST-style PTB tree given as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treelstm.batch import TreeBatch
from treelstm.data.sst import read_sst
from treelstm.embeddings import Vocabulary
from treelstm.explain import Explanation, explain_trees
from treelstm.heads import Classifier
from treelstm.parsing import parse
from treelstm.sentence import SentenceEncoder
from treelstm.task import Task
from treelstm.trees import Tree, binarize, chain, from_ptb, token_spans

BINARY_CLASS = np.array([0, 0, 1, 2, 2])  # 0-4 -> negative, neutral, positive
FINE_CLASSES = ("very negative", "negative", "neutral", "positive", "very positive")
FINE_SYMBOLS = ("−−", "−", "0", "+", "++")  # drawn in the nodes by treelstm explain
BINARY_CLASSES, BINARY_SYMBOLS = ("negative", "neutral", "positive"), ("−", "0", "+")


@dataclass(frozen=True)
class Sentence:
    tree: Tree
    node_labels: np.ndarray  # (num_nodes,) training class of each node, -1 where unlabelled
    label: int  # the gold answer at the root: 0-4 (fine) or 0/1 (binary)


@dataclass(frozen=True)
class SentenceBatch:
    trees: TreeBatch
    node_labels: Tensor  # (N,)
    labels: Tensor  # (B,)


class SentimentModel(nn.Module):
    def __init__(self, encoder: SentenceEncoder, classifier: Classifier):
        super().__init__()
        self.encoder, self.classifier = encoder, classifier

    def forward(self, batch: SentenceBatch) -> tuple[Tensor, Tensor]:
        """Logits of every node ``(N, C)`` (None for chains) and of every sentence ``(B, C)``."""
        nodes, sentences = self.encoder(batch.trees)
        if self.encoder.cell_name == "lstm":
            return None, self.classifier(sentences)
        logits = self.classifier(nodes)
        return logits, logits.index_select(0, batch.trees.roots)


class Sentiment(Task):
    metric = "accuracy"

    @property
    def binary(self) -> bool:
        return self.config.data.subtask == "binary"

    def read(self, data_root: Path):
        splits = {split: read_sst(data_root, split) for split in self.splits}
        if self.binary:
            splits = {name: ds.select([k for k, label in enumerate(ds["label"]) if label != 2])
                      for name, ds in splits.items()}
        return splits

    def explain_raw(self, model: SentimentModel, vocab: Vocabulary, *, text: str | None = None,
                    tree: str | None = None, pair=None, gates: bool = False) -> Explanation:
        """Every node's class probabilities (the model classifies every node's phrase), from a
        sentence (``text``) or an SST-style PTB tree (``tree``); the prediction is the root's.

        A constituency model reads ``tree`` as it is, or for ``text`` spaCy's dependency parse
        binarised (:func:`treelstm.trees.binarize`); a dependency model reads spaCy's parse of
        ``text`` or of the tree's words. Binary models classify nodes as negative, neutral or
        positive and the sentence as negative or positive, as they were trained.
        """
        if pair is not None:
            raise ValueError("a sentiment model explains one sentence: give text (--text) or a PTB tree (--tree), "
                             "not a pair")
        sentence = self._raw_tree(text, tree)
        model.eval()
        (explained,) = explain_trees(model.encoder, vocab, [sentence],
                                     lambda h, _: model.classifier(h).softmax(dim=-1), gates)
        root = explained.probabilities[sentence.root]
        classes, symbols = (BINARY_CLASSES, BINARY_SYMBOLS) if self.binary else (FINE_CLASSES, FINE_SYMBOLS)
        label = ("positive" if root[2] > root[0] else "negative") if self.binary else classes[int(root.argmax())]
        return Explanation("sentiment", classes, symbols, (explained,), root, label,
                           "colour: the expected sentiment of the node's phrase; symbol: its most probable class")

    def _raw_tree(self, text: str | None, ptb: str | None) -> Tree:
        """The tree the model reads for a raw sentence or a PTB tree."""
        kind = self.config.data.tree
        if ptb is not None:
            try:
                tree = from_ptb(ptb)
            except ValueError as error:
                raise ValueError(f"tree: {error}") from None
            words = [token for token in tree.tokens if token is not None]
            return tree if kind == "constituency" else parse([words], progress=False)[0]
        if not text.strip():
            raise ValueError("the text is empty")
        parsed = parse([text], progress=False)[0]
        return binarize(parsed) if kind == "constituency" else parsed

    def examples(self, dataset) -> list[Sentence]:
        rows = dataset.to_list()
        constituency = [Tree.of(r["parents"], r["slots"], r["tokens"], r["labels"]) for r in rows]
        kind = self.config.data.tree
        if kind == "constituency":
            trees = constituency
        elif kind == "dependency":
            trees = parse([r["tokens"] for r in rows])
        else:
            trees = [chain(len(r["tokens"]), tokens=r["tokens"]) for r in rows]
        return [self._sentence(tree, con, kind) for tree, con in zip(trees, constituency)]

    def _sentence(self, tree: Tree, constituency: Tree, kind: str) -> Sentence:
        labels = np.array([int(label) for label in constituency.labels])
        root = int(labels[constituency.root])
        if kind == "constituency":
            node_labels = labels
        else:
            node_labels = np.full(tree.num_nodes, -1)
            if kind == "dependency":  # label the nodes whose words are exactly a labelled constituent's
                phrases = {(int(a), int(b)): labels[j] for j, (a, b, _) in enumerate(token_spans(constituency))}
                for j, (a, b, n) in enumerate(token_spans(tree)):
                    if b - a + 1 == n:
                        node_labels[j] = phrases.get((int(a), int(b)), -1)
            node_labels[tree.root] = root
        if self.binary:
            node_labels = np.where(node_labels >= 0, BINARY_CLASS[node_labels], -1)
            root = int(root > 2)
        return Sentence(tree, node_labels, root)

    def tokens(self, sentence: Sentence):
        return [t for t in sentence.tree.tokens if t is not None]

    def build_model(self, embedding: nn.Embedding) -> SentimentModel:
        m = self.config.model
        encoder = SentenceEncoder(
            embedding, m.cell, m.hidden_size, m.num_layers, m.bidirectional, m.output_gate, m.all_layers
        )
        return SentimentModel(encoder, Classifier(encoder.out_size, 3 if self.binary else 5, m.dropout))

    def collate(self, sentences: Sequence[Sentence], vocab: Vocabulary) -> SentenceBatch:
        return SentenceBatch(
            TreeBatch.of([s.tree for s in sentences], vocab),
            torch.from_numpy(np.concatenate([s.node_labels for s in sentences])),
            torch.tensor([s.label for s in sentences]),
        )

    def loss(self, model: SentimentModel, batch: SentenceBatch) -> Tensor:
        node_logits, sentence_logits = model(batch)
        if node_logits is None:  # chains: the sentence label only
            targets = batch.node_labels.index_select(0, batch.trees.roots)
            return F.cross_entropy(sentence_logits, targets)
        summed = F.cross_entropy(node_logits, batch.node_labels, ignore_index=-1, reduction="sum")
        return summed / batch.trees.num_trees

    def predict(self, model: SentimentModel, batch: SentenceBatch) -> Tensor:
        _, logits = model(batch)
        if self.binary:  # negative vs positive, ignoring neutral
            return (logits[:, 2] > logits[:, 0]).long()
        return logits.argmax(dim=1)

    def metrics(self, predictions: Tensor, sentences: Sequence[Sentence]) -> dict[str, float]:
        gold = torch.tensor([s.label for s in sentences])
        return {"accuracy": float((predictions == gold).double().mean())}
