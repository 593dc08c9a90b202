"""Semantic relatedness on SICK (Tai et al. 2015, Section 4.2 and Table 3).

Each sentence is encoded to its root ``h`` (or a chain LSTM's final state); the similarity head
turns the pair into a distribution over scores 1..5; the loss is the KL divergence to the
sparse target distribution of the gold score; metrics are Pearson's r, Spearman's rho and MSE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from torch import Tensor, nn

from treelstm.batch import TreeBatch
from treelstm.data.sick import read_sick
from treelstm.embeddings import Vocabulary
from treelstm.heads import SimilarityHead
from treelstm.sentence import SentenceEncoder
from treelstm.task import Task
from treelstm.trees import Tree, chain


@dataclass(frozen=True)
class Pair:
    a: Tree
    b: Tree
    score: float


@dataclass(frozen=True)
class PairBatch:
    trees: TreeBatch  # the B left sentences, then the B right ones
    scores: Tensor  # (B,)


def target_distribution(scores: Tensor, num_classes: int = 5) -> Tensor:
    """Tai et al.'s sparse target p: p_floor(y) = floor(y) - y + 1, p_floor(y)+1 = y - floor(y)."""
    floor = scores.floor().clamp(max=num_classes - 1)
    p = torch.zeros(len(scores), num_classes)
    rows = torch.arange(len(scores))
    p[rows, floor.long() - 1] = floor - scores + 1
    p[rows, floor.long()] += scores - floor
    return p


class RelatednessModel(nn.Module):
    def __init__(self, encoder: SentenceEncoder, head: SimilarityHead):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, batch: PairBatch) -> Tensor:
        """Log-probabilities of the scores 1..5, ``(B, 5)``."""
        _, sentences = self.encoder(batch.trees)
        h_L, h_R = sentences.chunk(2)
        return self.head(h_L, h_R)


class Relatedness(Task):
    metric = "pearson"

    def read(self, data_root: Path):
        return {split: read_sick(data_root, split) for split in self.splits}

    def examples(self, dataset) -> list[Pair]:
        kind = self.config.data.tree
        key = {"dependency": "dep", "constituency": "con"}.get(kind)

        def tree(row, side):
            tokens = row[f"{side}_tokens"]
            if kind == "chain":
                return chain(len(tokens), tokens=tokens)
            return Tree.of(row[f"{side}_{key}_parents"], row[f"{side}_{key}_slots"], tokens)

        return [Pair(tree(row, "a"), tree(row, "b"), row["score"]) for row in dataset]

    def tokens(self, pair: Pair):
        return [t for tree in (pair.a, pair.b) for t in tree.tokens if t is not None]

    def build_model(self, embedding: nn.Embedding) -> RelatednessModel:
        m = self.config.model
        encoder = SentenceEncoder(
            embedding, m.cell, m.hidden_size, m.num_layers, m.bidirectional, m.output_gate, m.all_layers
        )
        return RelatednessModel(encoder, SimilarityHead(encoder.out_size, m.head_hidden))

    def collate(self, pairs: Sequence[Pair], vocab: Vocabulary) -> PairBatch:
        trees = TreeBatch.of([p.a for p in pairs] + [p.b for p in pairs], vocab)
        return PairBatch(trees, torch.tensor([p.score for p in pairs], dtype=torch.float32))

    def loss(self, model: RelatednessModel, batch: PairBatch) -> Tensor:
        return F.kl_div(model(batch), target_distribution(batch.scores), reduction="batchmean")

    def predict(self, model: RelatednessModel, batch: PairBatch) -> Tensor:
        return model.head.score(model(batch))

    def metrics(self, predictions: Tensor, pairs: Sequence[Pair]) -> dict[str, float]:
        gold = torch.tensor([p.score for p in pairs], dtype=torch.float64)
        predicted = predictions.double()
        return {
            "pearson": float(pearsonr(predicted, gold)[0]),
            "spearman": float(spearmanr(predicted, gold)[0]),
            "mse": float(((predicted - gold) ** 2).mean()),
        }
