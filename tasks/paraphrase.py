"""Paraphrase detection on MSRP: is sentence 2 a paraphrase of sentence 1?

Raw sentences are tokenized and dependency-parsed by spaCy (:func:`treelstm.parsing.parse`,
cached); each is encoded by the configured model (a Child-Sum Tree-LSTM over the dependency
tree by default, or a chain LSTM over the same tokens). The Tai et al. comparison features
``h_L * h_R`` and ``|h_L - h_R|`` feed a sigmoid hidden layer and a 2-way softmax
(:class:`~treelstm.heads.SimilarityHead` with two classes). Metrics: accuracy and the F1 of
the paraphrase class. MSRP has no dev split: a fixed, seeded 10% of train is held out.

Explaining a pair (:meth:`Paraphrase.explain_raw`): a node of one sentence gets the head's
paraphrase probability of its phrase against the whole other sentence; at the roots that is
the pair's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tasks.relatedness import RelatednessModel
from treelstm.batch import TreeBatch
from treelstm.data.pairs import read_msrp, read_paws
from treelstm.embeddings import Vocabulary
from treelstm.explain import Explanation, explain_trees
from treelstm.heads import SimilarityHead
from treelstm.parsing import parse
from treelstm.sentence import SentenceEncoder
from treelstm.task import Task
from treelstm.trees import Tree, chain


@dataclass(frozen=True)
class LabelledPair:
    a: Tree
    b: Tree
    label: int  # 1 = paraphrase


@dataclass(frozen=True)
class LabelledPairBatch:
    trees: TreeBatch  # the B first sentences, then the B second ones
    labels: Tensor  # (B,)


def accuracy_and_f1(predicted: Tensor, gold: Tensor) -> dict[str, float]:
    """Accuracy, and precision/recall/F1 of the positive class (label 1)."""
    tp = int(((predicted == 1) & (gold == 1)).sum())
    precision = tp / max(int((predicted == 1).sum()), 1)
    recall = tp / max(int((gold == 1).sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float((predicted == gold).double().mean()), "f1": f1}


def _check_pair(pair: Sequence[str], where: str = "") -> None:
    """Raise ValueError naming the sentence (1 or 2) of ``pair`` that is empty or only whitespace."""
    for side, text in enumerate(pair, 1):
        if not text.strip():
            raise ValueError(f"{where}sentence {side} is empty")


class Paraphrase(Task):
    metric = "accuracy"
    eval_splits = ("train", "dev", "test", "paws-dev", "paws-test")

    def read(self, data_root: Path):
        return {split: read_msrp(data_root, split) for split in self.splits}

    def read_split(self, data_root: Path, name: str):
        """MSRP splits, and PAWS-Wiki dev/test (``paws-dev``, ``paws-test``) as a cross-domain check."""
        if name.startswith("paws-") and name in self.eval_splits:
            return read_paws(data_root, name.removeprefix("paws-"))
        return super().read_split(data_root, name)

    def predict_raw(self, model: RelatednessModel, vocab: Vocabulary, pairs: Sequence[tuple[str, str]]) -> list[dict]:
        """For each ``(sentence1, sentence2)``: the paraphrase probability, the label
        (``paraphrase`` when it is at least 0.5) and warnings (e.g. every word unknown).

        Raises:
            ValueError: naming the pair (0-based) and sentence that is empty or only whitespace.
        """
        for k, pair in enumerate(pairs):
            _check_pair(pair, f"pair {k}: ")
        trees = self._trees([text for pair in pairs for text in pair], progress=False)
        model.eval()
        with torch.no_grad():
            batch = self.collate([LabelledPair(trees[2 * k], trees[2 * k + 1], 0) for k in range(len(pairs))], vocab)
            probabilities = model(batch).exp()[:, 1].tolist()
        results = []
        for k, p in enumerate(probabilities):
            warnings = [f"every word of sentence {side} is unknown to the model: its vector is the unknown word's"
                        for side, tree in enumerate(trees[2 * k : 2 * k + 2], 1)
                        if all(token not in vocab for token in tree.tokens)]
            results.append({"probability": p, "label": "paraphrase" if p >= 0.5 else "not paraphrase",
                            "warnings": warnings})
        return results

    def explain_raw(self, model: RelatednessModel, vocab: Vocabulary, *, pair: tuple[str, str] | None = None,
                    text=None, tree=None, gates: bool = False) -> Explanation:
        """Both sentences' trees; node ``j`` of one sentence gets the head's probabilities for
        (``h_j``, the other sentence's root ``h``): how far its phrase alone paraphrases the whole
        other sentence. The roots' probabilities are the pair's prediction.
        """
        if pair is None:
            raise ValueError("a paraphrase model explains a sentence pair: give pair (--pair SENTENCE1 SENTENCE2)")
        if len(pair) != 2:
            raise ValueError(f"a pair is two sentences, got {len(pair)}")
        _check_pair(pair)
        trees = self._trees(list(pair), progress=False)
        model.eval()

        def against_the_other_root(h: Tensor, batch: TreeBatch) -> Tensor:
            other = h.index_select(0, batch.roots.flip(0)).repeat_interleave(batch.graph.batch_num_nodes(), dim=0)
            return model.head(h, other).exp()

        explained = explain_trees(model.encoder, vocab, trees, against_the_other_root, gates)
        p = explained[0].probabilities[trees[0].root]
        return Explanation("paraphrase", ("not paraphrase", "paraphrase"), ("≠", "≈"), explained, p,
                           "paraphrase" if p[1] >= 0.5 else "not paraphrase",
                           "colour: P(paraphrase) of the node's phrase against the whole other sentence")

    def _trees(self, texts: list[str], progress: bool = True) -> list[Tree]:
        """spaCy's dependency trees of raw sentences, or chains over the same tokens."""
        if self.config.data.tree not in ("dependency", "chain"):
            raise ValueError("paraphrase sentences are parsed by spaCy: data.tree must be dependency or chain")
        trees = parse(texts, progress=progress)
        if self.config.data.tree == "chain":
            trees = [chain(t.num_nodes, tokens=t.tokens) for t in trees]
        return trees

    def examples(self, dataset) -> list[LabelledPair]:
        n = len(dataset)
        trees = self._trees(list(dataset["sentence1"]) + list(dataset["sentence2"]))
        return [LabelledPair(trees[k], trees[n + k], label) for k, label in enumerate(dataset["label"])]

    def tokens(self, pair: LabelledPair):
        return [*pair.a.tokens, *pair.b.tokens]

    def build_model(self, embedding: nn.Embedding) -> RelatednessModel:
        m = self.config.model
        encoder = SentenceEncoder(
            embedding, m.cell, m.hidden_size, m.num_layers, m.bidirectional, m.output_gate, m.all_layers
        )
        return RelatednessModel(encoder, SimilarityHead(encoder.out_size, m.head_hidden, num_classes=2))

    def collate(self, pairs: Sequence[LabelledPair], vocab: Vocabulary) -> LabelledPairBatch:
        trees = TreeBatch.of([p.a for p in pairs] + [p.b for p in pairs], vocab)
        return LabelledPairBatch(trees, torch.tensor([p.label for p in pairs]))

    def loss(self, model: RelatednessModel, batch: LabelledPairBatch) -> Tensor:
        return F.nll_loss(model(batch), batch.labels)

    def predict(self, model: RelatednessModel, batch: LabelledPairBatch) -> Tensor:
        return model(batch).argmax(dim=1)

    def metrics(self, predictions: Tensor, pairs: Sequence[LabelledPair]) -> dict[str, float]:
        return accuracy_and_f1(predictions, torch.tensor([p.label for p in pairs]))
