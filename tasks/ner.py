"""Named-entity recognition on CoNLL-2003 (English): a BiLSTM-CRF over chain graphs.

Sentences are read from the published IOB1 files (:func:`treelstm.data.conll.read_conll2003`)
and their tags converted to the configured scheme (``data.tag_scheme``, IOBES by default) for
training. The model is a :class:`~treelstm.tagger.SequenceTagger`: GloVe word vectors looked up
lowercased, casing features, a character BiLSTM or CNN (``model.chars``), a bidirectional
:class:`~treelstm.chain.ChainLSTM` and a CRF constrained to the scheme's valid transitions (or a
softmax, ``model.crf: false``). Predictions are scored as entities by seqeval (conlleval's
micro-averaged precision, recall and F1, and F1 per type), whatever the scheme.

On raw text, spaCy splits sentences and tokens; each entity comes with its character span.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, Sequence

import torch
from seqeval.metrics import classification_report
from torch import Tensor, nn

from treelstm.characters import CharCNN, CharLSTM
from treelstm.crf import CRF
from treelstm.data.conll import read_conll2003
from treelstm.embeddings import Vocabulary
from treelstm.tagger import SequenceTagger, TaggedBatch
from treelstm.tags import allowed_transitions, convert, spans, tag_names
from treelstm.task import Task


@dataclass(frozen=True)
class TaggedSentence:
    tokens: tuple[str, ...]
    tags: tuple[int, ...]  # ids of the training scheme's tags
    gold: tuple[str, ...]  # the file's IOB1 tags


class NamedEntities(Task):
    metric = "f1"
    raw_input = "texts"

    def __init__(self, config):
        super().__init__(config)
        self.scheme = config.data.tag_scheme
        self.tags = tag_names(config.data.entity_types, self.scheme)
        self.tag_ids = {tag: i for i, tag in enumerate(self.tags)}

    def read(self, data_root: Path):
        return {split: read_conll2003(data_root, split, self.config.data.entity_types) for split in self.splits}

    def examples(self, dataset) -> list[TaggedSentence]:
        known = set(self.config.data.entity_types)
        examples = []
        for k, (tokens, gold) in enumerate(zip(dataset["tokens"], dataset["tags"])):
            for tag in gold:
                if tag != "O" and tag[2:] not in known:
                    raise ValueError(f"sentence {k + 1}: entity type {tag[2:]!r} is not in data.entity_types "
                                     f"({', '.join(sorted(known))})")
            tags = convert(gold, "iob1", self.scheme)
            examples.append(TaggedSentence(tuple(tokens), tuple(self.tag_ids[t] for t in tags), tuple(gold)))
        return examples

    def tokens(self, sentence: TaggedSentence):
        return [token.lower() for token in sentence.tokens]

    def build_model(self, embedding: nn.Embedding) -> SequenceTagger:
        m = self.config.model
        if m.cell != "lstm":
            raise ValueError(f"the ner task runs a chain LSTM: model.cell must be lstm, not {m.cell!r}")
        chars = {"lstm": lambda: CharLSTM(m.char_dim, m.char_hidden),
                 "cnn": lambda: CharCNN(m.char_dim, m.char_hidden, dropout=m.dropout),
                 "none": lambda: None}[m.chars]()
        crf = CRF(len(self.tags), *allowed_transitions(self.tags, self.scheme)) if m.crf else None
        return SequenceTagger(embedding, len(self.tags), m.hidden_size, m.num_layers, chars, m.casing_dim,
                              m.dropout, crf)

    def collate(self, sentences: Sequence[TaggedSentence], vocab: Vocabulary) -> TaggedBatch:
        return TaggedBatch.of([s.tokens for s in sentences], vocab, [s.tags for s in sentences])

    def loss(self, model: SequenceTagger, batch: TaggedBatch) -> Tensor:
        return model.loss(batch)

    def predict(self, model: SequenceTagger, batch: TaggedBatch) -> Tensor:
        return model.decode(batch)

    def metrics(self, predictions: Tensor, sentences: Sequence[TaggedSentence]) -> dict[str, float]:
        """Entity-level micro precision, recall and F1 (conlleval's), and F1 per entity type."""
        predicted = self._split(predictions, [len(s.tokens) for s in sentences])
        gold = [convert(s.gold, "iob1", "iob2") for s in sentences]
        report = classification_report(gold, predicted, output_dict=True, zero_division=0)
        micro = report["micro avg"]
        per_type = {f"f1_{t}": report[t]["f1-score"] for t in self.config.data.entity_types if t in report}
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
        from treelstm.parsing import sentences_of

        results, todo = [], []
        for k, (text, sents) in enumerate(zip(texts, sentences_of(texts))):
            results.append({"text": text if isinstance(text, str) else text.text, "entities": [], "sentences": [],
                            "warnings": [] if sents else ["the text is empty: no entities"]})
            todo += [(k, sentence) for sentence in sents]
        model.eval()
        with torch.no_grad():
            for start in range(0, len(todo), 256):
                chunk = todo[start : start + 256]
                batch = TaggedBatch.of([[t.text for t in sentence] for _, sentence in chunk], vocab)
                tags = self._split(model.decode(batch), [len(sentence) for _, sentence in chunk])
                for (k, sentence), sentence_tags in zip(chunk, tags):
                    self._add(results[k], sentence, sentence_tags, vocab)
        return results

    @staticmethod
    def _add(result: dict, sentence, tags: list[str], vocab: Vocabulary) -> None:
        """Add one tagged spaCy sentence's tokens and entities (character offsets) to a result."""
        result["sentences"].append([{"text": token.text, "start": token.idx, "end": token.idx + len(token.text),
                                     "tag": tag} for token, tag in zip(sentence, tags)])
        for a, b, kind in spans(tags, "iob2"):
            start, end = sentence[a].idx, sentence[b - 1].idx + len(sentence[b - 1].text)
            result["entities"].append({"start": start, "end": end, "type": kind, "text": result["text"][start:end]})
        if all(token.text.lower() not in vocab for token in sentence):
            words = " ".join(token.text for token in sentence)
            result["warnings"].append(f"every word of the sentence {words!r} is unknown to the model")
