"""Pair classification: one of K labels for two texts (paraphrase, entailment, ...).

Each text is encoded by the configured sentence encoder (a Child-Sum Tree-LSTM over spaCy's
dependency parse, say, or a chain LSTM over the same tokens); Tai et al.'s comparison features
``h_L * h_R`` and ``|h_L - h_R|`` feed a sigmoid layer and a K-way softmax
(:class:`~treelstm.nn.heads.SimilarityHead`). The labels are read from the training data (text or
numbers; ``data.labels`` fixes their order). Metrics: accuracy (dev selection), macro-F1 and the F1
of each label (``f1_LABEL``).
"""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

from treelstm.runner.labels import Labels
from treelstm.runner.metrics import classification_metrics
from treelstm.runner.text_tasks import Pair, PairBatch, PairModel, PairTask, TextData, symbol
from treelstm.viz.explanation import Explanation


class PairClassificationData(TextData):
    formats = ("tsv", "csv", "jsonl", "hf", "msrp", "paws")
    roles = ("text_a", "text_b", "label")

    labels: list[str] | None = None
    """The labels in class order (default: sorted, numerically when they are numbers)."""


class PairClassification(PairTask):
    Data = PairClassificationData
    metric = "accuracy"

    def fit(self, train) -> None:
        self.labels = Labels.of(train["label"], self.config.data.labels or self.label_order)

    def state(self) -> dict:
        return {"labels": list(self.labels.names)}

    def restore(self, state: dict) -> None:
        self.labels = Labels(tuple(state["labels"]))

    def outputs(self) -> int:
        return len(self.labels)

    def targets(self, dataset, split: str) -> list[int]:
        return self.labels.encode(dataset["label"], split)

    def loss(self, model: PairModel, batch: PairBatch) -> Tensor:
        return F.nll_loss(model(batch), batch.targets)

    def predict(self, model: PairModel, batch: PairBatch) -> Tensor:
        return model(batch).argmax(dim=1)

    def metrics(self, predictions: Tensor, pairs: Sequence[Pair]) -> dict[str, float]:
        return classification_metrics(predictions.tolist(), [p.target for p in pairs], self.labels.names)

    def describe(self, log_p: Tensor) -> dict:
        p = log_p.exp().tolist()
        best = max(range(len(p)), key=p.__getitem__)
        return {"label": self.labels.names[best], "probability": p[best],
                "probabilities": dict(zip(self.labels.names, p))}

    def explanation(self, explained, root_p) -> Explanation:
        names = self.labels.names
        return Explanation("pair-classification", names, tuple(map(symbol, names)), explained, root_p,
                           names[int(root_p.argmax())],
                           "colour: the label probabilities of the node's phrase against the whole other text")
