"""Named-entity recognition (any span tagging in CoNLL columns): a BiLSTM-CRF over chain graphs.

Sentences come from CoNLL column files, a Hugging Face dataset, or the CoNLL-2003 benchmark; their
tags may be IOB1, IOB2 or IOBES (``data.tag_scheme``, detected by default) and are converted to the
scheme the model is trained on (``model.tag_scheme``, IOBES by default). The entity types are read
from the training data and saved with the checkpoint. The model is a
:class:`~treelstm.models.tagger.SequenceTagger`: word vectors looked up lowercased, casing features, a
character BiLSTM or CNN (``model.chars``), a bidirectional :class:`~treelstm.nn.chain.ChainLSTM` and a CRF
constrained to the scheme's valid transitions (or a softmax, ``model.crf: false``). Predictions are
scored as entities by seqeval (conlleval's micro-averaged precision, recall and F1, and F1 per type),
whatever the schemes.

On raw text, spaCy splits sentences and tokens (``data.language``); each entity comes with its
character span.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

import torch
from datasets import Dataset
from pydantic import Field
from seqeval.metrics import classification_report
from torch import Tensor, nn

from treelstm.data.sources import DataConfig, read_source
from treelstm.errors import UserError
from treelstm.models.tagger import SequenceTagger, TaggedBatch
from treelstm.nn.characters import CharCNN, CharLSTM
from treelstm.nn.crf import CRF
from treelstm.runner.config import Section
from treelstm.runner.task import Task
from treelstm.text.embeddings import Vocabulary
from treelstm.text.tags import allowed_transitions, convert, spans, split_tag, tag_names


class NerData(DataConfig):
    formats = ("conll", "hf", "conll2003")
    roles = ("token", "tag")
    default_columns: ClassVar = {"conll": {"token": 0, "tag": -1}, "hf": {"token": "tokens", "tag": "tags"}}
    own_keys: ClassVar = {"tag_scheme": ("conll", "hf"), "language": None}

    tag_scheme: Literal["auto", "iob1", "iob2", "iobes"] = "auto"
    """The files' tag scheme; auto detects it from the training file (IOBES if it has E-/S- tags,
    IOB2 if B- begins entities, else IOB1)."""
    language: str = "en"
    """The language of raw text given to predict: ``en`` is split by the English pipeline, others by
    ``spacy.blank(language)`` with a sentencizer."""


class NerModel(Section):
    cell: Literal["lstm"] = "lstm"
    """The word and character encoders are chain LSTMs."""
    hidden_size: int = Field(100, gt=0)
    """Word BiLSTM states per direction."""
    num_layers: int = Field(1, gt=0)
    tag_scheme: Literal["iob1", "iob2", "iobes"] = "iobes"
    """The scheme the model is trained on (predictions are scored as entities, whatever it is)."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """On the word LSTM's input and output (and, for the CNN, on characters)."""
    chars: Literal["lstm", "cnn", "none"] = "lstm"
    """Character features from a character BiLSTM (Lample et al.), a character CNN (Ma & Hovy), or none."""
    char_dim: int = Field(25, gt=0)
    """Size of a character's vector."""
    char_hidden: int = Field(25, gt=0)
    """Character BiLSTM states per direction, or character CNN filters."""
    casing_dim: int = Field(0, ge=0)
    """Size of the word's casing-pattern vector (0: no casing features)."""
    crf: bool = True
    """A CRF over tag sequences (False: softmax per token, the ablation)."""
    lowercase: bool = True
    """Look words up in the vectors lowercased (False: as written, so each casing of a word is a row of
    its own, starting from the vector as written, else lowercased)."""
    word_dropout: float = Field(0.0, ge=0, lt=1)
    """While training, replace each token's word by ``<unk>`` with this probability (Lample et al. 2016)."""
    variational_dropout: bool = False
    """``dropout`` on the word LSTM's input and output with one mask per sentence, the same at every
    token (variational dropout, Gal & Ghahramani 2016; Reimers & Gurevych 2017)."""


@dataclass(frozen=True)
class TaggedSentence:
    tokens: tuple[str, ...]
    tags: tuple[int, ...]  # ids of the training scheme's tags
    gold: tuple[str, ...]  # the file's tags in IOB2


class NamedEntities(Task):
    Data = NerData
    Model = NerModel
    metric = "f1"

    def read(self, data_root: Path | None, splits: Sequence[str] | None = None,
             progress: bool = True) -> dict[str, Dataset]:
        source = read_source(self.config.data, data_root, splits)
        self.source_scheme = source.scheme
        return source.splits

    def fit(self, train: Dataset) -> None:
        types = {split_tag(tag, "iobes")[1] for tags in train["tags"] for tag in tags} - {""}
        self.types = sorted(types)

    def state(self) -> dict:
        return {"entity_types": self.types}

    def restore(self, state: dict) -> None:
        self.types = list(state["entity_types"])

    @property
    def scheme(self) -> str:
        return self.config.model.tag_scheme

    @property
    def tags(self) -> list[str]:
        return tag_names(self.types, self.scheme)

    def examples(self, dataset: Dataset, split: str = "data") -> list[TaggedSentence]:
        known, ids = set(self.types), {tag: i for i, tag in enumerate(self.tags)}
        examples = []
        for k, (tokens, tags) in enumerate(zip(dataset["tokens"], dataset["tags"]), 1):
            for tag in tags:
                kind = split_tag(tag, "iobes")[1]
                if kind and kind not in known:
                    raise UserError(f"{split} sentence {k}: the entity type {kind!r} is not in the training data "
                                     f"({', '.join(self.types)})")
            trained = convert(tags, self.source_scheme, self.scheme)
            examples.append(TaggedSentence(tuple(tokens), tuple(ids[t] for t in trained),
                                           tuple(convert(tags, self.source_scheme, "iob2"))))
        return examples

    def tokens(self, sentence: TaggedSentence):
        return [token.lower() for token in sentence.tokens] if self.config.model.lowercase else list(sentence.tokens)

    def build_model(self, embedding: nn.Embedding) -> SequenceTagger:
        m = self.config.model
        chars = {"lstm": lambda: CharLSTM(m.char_dim, m.char_hidden),
                 "cnn": lambda: CharCNN(m.char_dim, m.char_hidden, dropout=m.dropout),
                 "none": lambda: None}[m.chars]()
        # validate=False: the tagger makes the masks (prefix masks by construction) and the tags are ids of
        # self.tags, so the CRF's value checks, host syncs on a GPU, would check nothing
        crf = CRF(len(self.tags), *allowed_transitions(self.tags, self.scheme), validate=False) if m.crf else None
        return SequenceTagger(embedding, len(self.tags), m.hidden_size, m.num_layers, chars, m.casing_dim,
                              m.dropout, crf, word_dropout=m.word_dropout, variational=m.variational_dropout)

    def collate(self, sentences: Sequence[TaggedSentence], vocab: Vocabulary) -> TaggedBatch:
        return TaggedBatch.of([s.tokens for s in sentences], vocab, [s.tags for s in sentences],
                              self.config.model.lowercase)

    def loss(self, model: SequenceTagger, batch: TaggedBatch) -> Tensor:
        return model.loss(batch)

    def predict(self, model: SequenceTagger, batch: TaggedBatch) -> Tensor:
        return model.decode(batch)

    def metrics(self, predictions: Tensor, sentences: Sequence[TaggedSentence]) -> dict[str, float]:
        """Entity-level micro precision, recall and F1 (conlleval's), and F1 per entity type."""
        predicted = self._split(predictions, [len(s.tokens) for s in sentences])
        gold = [list(s.gold) for s in sentences]
        report = classification_report(gold, predicted, output_dict=True, zero_division=0)
        micro = report["micro avg"]
        per_type = {f"f1_{t}": report[t]["f1-score"] for t in self.types if t in report}
        return {"f1": micro["f1-score"], "precision": micro["precision"], "recall": micro["recall"], **per_type}

    def _split(self, predictions: Tensor, lengths: Sequence[int]) -> list[list[str]]:
        """Flat predicted tag ids as one IOB2 tag list per sentence."""
        names = [self.tags[i] for i in predictions.tolist()]
        ends = list(accumulate(lengths))
        return [convert(names[end - n : end], self.scheme, "iob2") for n, end in zip(lengths, ends)]

    def predict_raw(self, model: SequenceTagger, vocab: Vocabulary, texts: Sequence[Any]) -> list[dict]:
        """Entities in raw texts (strings, tokenized and split into sentences by spaCy) or in
        spaCy ``Doc`` objects (their tokens and sentences as they are).

        Returns one dict per text: ``entities`` (each ``{"start", "end", "type", "text"}`` with
        character offsets into the text), ``sentences`` (each a list of tokens
        ``{"text", "start", "end", "tag"}``, tags in IOB2), and ``warnings`` (an empty text, a
        sentence of unknown words).
        """
        from treelstm.text.parsing import load_tokenizer, sentences_of

        results, todo = [], []
        for k, (text, sents) in enumerate(zip(texts, sentences_of(texts, load_tokenizer(self.config.data.language)))):
            results.append({"text": text if isinstance(text, str) else text.text, "entities": [], "sentences": [],
                            "warnings": [] if sents else ["the text is empty: no entities"]})
            todo += [(k, sentence) for sentence in sents]
        model.eval()
        with torch.no_grad():
            for start in range(0, len(todo), 256):
                chunk = todo[start : start + 256]
                batch = TaggedBatch.of([[t.text for t in sentence] for _, sentence in chunk], vocab,
                                       lowercase=self.config.model.lowercase)
                tags = self._split(model.decode(batch), [len(sentence) for _, sentence in chunk])
                for (k, sentence), sentence_tags in zip(chunk, tags):
                    self._add(results[k], sentence, sentence_tags, vocab, self.config.model.lowercase)
        return results

    @staticmethod
    def _add(result: dict, sentence, tags: list[str], vocab: Vocabulary, lowercase: bool) -> None:
        """Add one tagged spaCy sentence's tokens and entities (character offsets) to a result."""
        result["sentences"].append([{"text": token.text, "start": token.idx, "end": token.idx + len(token.text),
                                     "tag": tag} for token, tag in zip(sentence, tags)])
        for a, b, kind in spans(tags, "iob2"):
            start, end = sentence[a].idx, sentence[b - 1].idx + len(sentence[b - 1].text)
            result["entities"].append({"start": start, "end": end, "type": kind, "text": result["text"][start:end]})
        if all((token.text.lower() if lowercase else token.text) not in vocab for token in sentence):
            words = " ".join(token.text for token in sentence)
            result["warnings"].append(f"every word of the sentence {words!r} is unknown to the model")
