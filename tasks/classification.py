"""Text classification: one of K labels for a text (sentiment, question type, topic, ...).

The text is encoded by the configured sentence encoder; a softmax with dropout before it classifies
the root's ``h`` (tree models) or the chain LSTM's final state. The labels are read from the
training data (``data.labels`` fixes their order).

When the texts are PTB trees with a label on every node (``data.tree: constituency``, or the
built-in ``sst``), tree models are trained on every labelled node (the loss summed over them,
divided by the number of texts), as Tai et al. (2015, Section 4.1) train on the Stanford Sentiment
Treebank; dependency trees of the same words get the labels of the constituents whose words they
cover exactly. A text is then predicted among the labels seen at training roots: SST's binary
subtask trains on negative, neutral and positive phrases and predicts a sentence as negative or
positive. Metrics: accuracy (dev selection), macro-F1 and the F1 of each predicted label.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from treelstm.errors import UserError
from treelstm.models.batch import TreeBatch
from treelstm.models.sentence import SentenceEncoder
from treelstm.nn.heads import Classifier
from treelstm.runner.labels import Labels
from treelstm.runner.metrics import classification_metrics
from treelstm.runner.text_tasks import EncoderConfig, TextData, TextTask, check_texts, symbol
from treelstm.text.embeddings import Vocabulary
from treelstm.trees import Tree, from_ptb
from treelstm.viz.explanation import Explanation, explain_trees


class ClassificationData(TextData):
    formats = ("tsv", "csv", "jsonl", "hf", "sst")
    roles = ("text", "label")
    own_keys: ClassVar = {**TextData.own_keys, "subtask": ("sst",)}

    labels: list[str] | None = None
    """The labels in class order (default: sorted, numerically when they are numbers)."""
    subtask: Literal["fine", "binary"] = "fine"
    """sst: 5 classes (0-4), or binary (negative/positive sentences; phrases also neutral)."""


class ClassificationModelConfig(EncoderConfig):
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout before the softmax."""


@dataclass(frozen=True)
class Text:
    tree: Tree
    node_labels: np.ndarray  # (num_nodes,) class of each node, -1 where unlabelled
    label: int


@dataclass(frozen=True)
class TextBatch:
    trees: TreeBatch
    node_labels: Tensor  # (N,)
    labels: Tensor  # (B,)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "TextBatch":
        """A copy with every tensor on ``device`` (the trees' too, :meth:`TreeBatch.to`)."""
        return replace(self, trees=self.trees.to(device, non_blocking), node_labels=self.node_labels.to(
            device, non_blocking=non_blocking), labels=self.labels.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "TextBatch":
        """A copy with every tensor in pinned host memory (:meth:`TreeBatch.pin_memory`)."""
        return replace(self, trees=self.trees.pin_memory(), node_labels=self.node_labels.pin_memory(),
                       labels=self.labels.pin_memory())


class ClassificationModel(nn.Module):
    def __init__(self, encoder: SentenceEncoder, classifier: Classifier):
        super().__init__()
        self.encoder, self.classifier = encoder, classifier

    def forward(self, batch: TextBatch) -> tuple[Tensor | None, Tensor]:
        """Logits of every node ``(N, C)`` (None for chain LSTMs) and of every text ``(B, C)``."""
        nodes, sentences = self.encoder(batch.trees)
        if self.encoder.cell_name == "lstm":
            return None, self.classifier(sentences)
        logits = self.classifier(nodes)
        return logits, logits.index_select(0, batch.trees.roots.to(logits.device))


class Classification(TextTask):
    Data = ClassificationData
    Model = ClassificationModelConfig
    metric = "accuracy"

    def fit(self, train) -> None:
        node_labels = train["text_node_labels"] if "text_node_labels" in train.column_names else []
        seen = [label for labels in node_labels for label in labels if label is not None]
        self.labels = Labels.of([*seen, *train["label"]], self.config.data.labels or self.label_order)
        at_roots = set(train["label"])
        self.predicted = [k for k, name in enumerate(self.labels.names) if name in at_roots]

    def state(self) -> dict:
        return {"labels": list(self.labels.names), "predicted": self.predicted}

    def restore(self, state: dict) -> None:
        self.labels, self.predicted = Labels(tuple(state["labels"])), list(state["predicted"])

    def examples(self, dataset, split: str = "data") -> list[Text]:
        labels = self.labels.encode(dataset["label"], split)
        texts = []
        for row, label in zip(dataset, labels):
            tree = self.tree(row, "text")
            node_labels = np.full(tree.num_nodes, -1)
            if "text_node_labels" in row:
                known = [(j, name) for j, name in enumerate(row["text_node_labels"]) if name is not None]
                node_labels[[j for j, _ in known]] = self.labels.encode([name for _, name in known], split)
            node_labels[tree.root] = label
            texts.append(Text(tree, node_labels, label))
        return texts

    def trees_of(self, text: Text) -> tuple[Tree]:
        return (text.tree,)

    def build_model(self, embedding: nn.Embedding) -> ClassificationModel:
        encoder = self.encoder(embedding)
        return ClassificationModel(encoder, Classifier(encoder.out_size, len(self.labels), self.config.model.dropout))

    def collate(self, texts: Sequence[Text], vocab: Vocabulary) -> TextBatch:
        return TextBatch(TreeBatch.of([t.tree for t in texts], vocab),
                         torch.from_numpy(np.concatenate([t.node_labels for t in texts])),
                         torch.tensor([t.label for t in texts]))

    def loss(self, model: ClassificationModel, batch: TextBatch) -> Tensor:
        node_logits, text_logits = model(batch)
        if node_logits is None:  # chain LSTMs: the text's label only
            return F.cross_entropy(text_logits, batch.labels)
        summed = F.cross_entropy(node_logits, batch.node_labels, ignore_index=-1, reduction="sum")
        return summed / batch.trees.num_trees

    def _choose(self, text_logits: Tensor) -> Tensor:
        """The text's class: the most probable of the labels seen at training roots."""
        predicted = torch.tensor(self.predicted, device=text_logits.device)
        return predicted[text_logits.index_select(1, predicted).argmax(dim=1)]

    def predict(self, model: ClassificationModel, batch: TextBatch) -> Tensor:
        return self._choose(model(batch)[1])

    def metrics(self, predictions: Tensor, texts: Sequence[Text]) -> dict[str, float]:
        return classification_metrics(predictions.tolist(), [t.label for t in texts], self.labels.names,
                                      self.predicted)

    def predict_raw(self, model: ClassificationModel, vocab: Vocabulary, texts: Sequence[str]) -> list[dict]:
        """One dict per text: ``label``, its ``probability`` and every label's ``probabilities`` (among
        the labels a text is predicted as), and ``warnings`` (every word unknown).

        Raises:
            ValueError: naming the text (1-based) that is empty.
        """
        check_texts(texts, lambda k: f"text {k + 1}")
        trees = self.raw_trees(texts)
        model.eval()
        with torch.no_grad():
            _, logits = model(self.collate([Text(t, np.full(t.num_nodes, -1), 0) for t in trees], vocab))
            p = logits.index_select(1, torch.tensor(self.predicted, device=logits.device)).softmax(dim=1).tolist()
        names = [self.labels.names[c] for c in self.predicted]
        results = []
        for tree, row in zip(trees, p):
            best = max(range(len(row)), key=row.__getitem__)
            results.append({"label": names[best], "probability": row[best], "probabilities": dict(zip(names, row)),
                            "warnings": self.unknown_words([tree], vocab, ["the text"])})
        return results

    def explain_raw(self, model: ClassificationModel, vocab: Vocabulary, *, text: str | None = None,
                    tree: str | None = None, pair=None, gates: bool = False) -> Explanation:
        """Every node's class probabilities (the classifier applied to every node's ``h``), from a
        text or a PTB tree (``tree``: read as it is by constituency models, its words parsed for
        others); the prediction is the root's, among the labels texts are predicted as."""
        if pair is not None:
            raise UserError("this model classifies one text: give text (--text) or a PTB tree (--tree), not a pair")
        sentence = self._explained_tree(text, tree)
        model.eval()
        (explained,) = explain_trees(model.encoder, vocab, [sentence],
                                     lambda h, _: model.classifier(h).softmax(dim=-1), gates)
        root = explained.probabilities[sentence.root]
        label = self.labels.names[self.predicted[int(root[self.predicted].argmax())]]
        names = self.labels.names
        return Explanation("classification", names, tuple(map(symbol, names)), (explained,), root, label,
                           "colour: the expected class of the node's phrase; symbol: its most probable class")

    def _explained_tree(self, text: str | None, ptb: str | None) -> Tree:
        from treelstm.data.parsed import ptb_words
        from treelstm.text.parsing import parse

        if ptb is None:
            check_texts([text], lambda _: "text")
            return self.raw_trees([text])[0]
        try:
            tree = from_ptb(ptb)
        except ValueError as error:
            raise UserError(f"tree: {error}") from None
        if self.config.data.tree_kind() == "constituency":
            return tree
        words = ptb_words(tree)
        if self.config.data.tree_kind() == "dependency":
            return parse([words])[0]
        return self.raw_trees([" ".join(words)])[0]
