"""Pair regression: a score for two texts, e.g. semantic relatedness (SICK: Tai et al. 2015, Section 4.2).

Each text is encoded to its root ``h`` (or a chain LSTM's final state); Tai et al.'s similarity head
turns the pair into a distribution over ``K`` score points (``model.score_points``, 5 for SICK's
1..5), the prediction is its expectation, and the loss is the KL divergence to the sparse target
distribution of the gold score. Scores in ``[lo, hi]`` (``data.score_range``, default the training
scores' range) are mapped linearly onto the points ``1..K``. Metrics: Pearson's r (dev selection),
Spearman's rho and MSE.
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from scipy.stats import pearsonr, spearmanr
from torch import Tensor

from treelstm.errors import UserError
from treelstm.notes import note
from treelstm.runner.text_tasks import Pair, PairBatch, PairModel, PairModelConfig, PairTask, TextData
from treelstm.viz.explanation import Explanation


def target_distribution(scores: Tensor, num_classes: int = 5) -> Tensor:
    """Tai et al.'s sparse target p for scores in [1, K]: p_floor(y) = floor(y) - y + 1, p_floor(y)+1 = y - floor(y)."""
    floor = scores.floor().clamp(max=num_classes - 1)
    p = torch.zeros(len(scores), num_classes)
    rows = torch.arange(len(scores))
    p[rows, floor.long() - 1] = floor - scores + 1
    p[rows, floor.long()] += scores - floor
    return p


class PairRegressionData(TextData):
    formats = ("tsv", "csv", "jsonl", "hf", "sick")
    roles = ("text_a", "text_b", "score")
    own_keys: ClassVar = {**TextData.own_keys, "score_range": None}
    own_keys.pop("labels")

    score_range: tuple[float, float] | None = None
    """``[lo, hi]``: the scores the model's points ``1..K`` span (default: the training scores' range)."""


class PairRegressionModel(PairModelConfig):
    score_points: int = Field(5, ge=2)
    """``K``: the head's distribution is over ``K`` evenly spaced scores from ``lo`` to ``hi``."""


class PairRegression(PairTask):
    Data = PairRegressionData
    Model = PairRegressionModel
    metric = "pearson"

    def fit(self, train) -> None:
        given = self.config.data.score_range or self.score_range
        scores = np.asarray(train["score"], dtype=np.float64)
        self.range = tuple(given) if given else (float(scores.min()), float(scores.max()))
        if not self.range[0] < self.range[1]:
            raise UserError(f"data: the score range must be lo < hi, got {list(self.range)}")

    def state(self) -> dict:
        return {"score_range": list(self.range)}

    def restore(self, state: dict) -> None:
        self.range = tuple(state["score_range"])

    def outputs(self) -> int:
        return self.config.model.score_points

    def _points(self, scores: Tensor) -> Tensor:
        """Scores on the model's scale 1..K (unchanged when the range is already 1..K)."""
        lo, hi = self.range
        K = self.outputs()
        return scores if (lo, hi) == (1, K) else 1 + (scores - lo) * ((K - 1) / (hi - lo))

    def _scores(self, points: Tensor) -> Tensor:
        lo, hi = self.range
        K = self.outputs()
        return points if (lo, hi) == (1, K) else lo + (points - 1) * ((hi - lo) / (K - 1))

    def targets(self, dataset, split: str) -> list[float]:
        scores = [float(s) for s in dataset["score"]]
        outside = sum(not self.range[0] <= s <= self.range[1] for s in scores)
        if outside:
            note(f"{split}: {outside:,} scores outside the training range {list(self.range)} "
                 "(the model predicts within it)")
        return scores

    def loss(self, model: PairModel, batch: PairBatch) -> Tensor:
        points = self._points(batch.targets).clamp(1, self.outputs())
        return F.kl_div(model(batch), target_distribution(points, self.outputs()), reduction="batchmean")

    def predict(self, model: PairModel, batch: PairBatch) -> Tensor:
        return self._scores(model.head.score(model(batch)))

    def metrics(self, predictions: Tensor, pairs: Sequence[Pair]) -> dict[str, float]:
        gold = torch.tensor([p.target for p in pairs], dtype=torch.float64)
        predicted = predictions.double()
        return {
            "pearson": float(pearsonr(predicted, gold)[0]),
            "spearman": float(spearmanr(predicted, gold)[0]),
            "mse": float(((predicted - gold) ** 2).mean()),
        }

    def describe(self, log_p: Tensor) -> dict:
        return {"score": float(self._scores(log_p.exp() @ torch.arange(1, len(log_p) + 1, dtype=log_p.dtype)))}

    def explanation(self, explained, root_p) -> Explanation:
        K = self.outputs()
        points = self._scores(torch.arange(1, K + 1, dtype=torch.float64)).tolist()
        score = float(np.dot(root_p, points))
        names = tuple(f"{p:g}" for p in points)
        return Explanation("pair-regression", names, names, explained, root_p, f"{score:.2f}",
                           "colour: the expected score of the node's phrase against the whole other text")
