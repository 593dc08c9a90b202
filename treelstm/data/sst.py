"""The Stanford Sentiment Treebank's PTB trees (``sst/trees/{train,dev,test}.txt``), one tree a line."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from treelstm.errors import UserError
from treelstm.files import read_lines
from treelstm.trees import from_ptb

__all__ = ["read_sst", "unescape_ptb"]

_PTB_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}


def unescape_ptb(word: str) -> str:
    """``-LRB-`` -> ``(``, ``\\/`` -> ``/``, ``\\*`` -> ``*``: the words as written in the sentence."""
    return _PTB_ESCAPES.get(word, word.replace("\\/", "/").replace("\\*", "*"))


def read_sst(data_root: Path, split: str) -> Dataset:
    """One SST split (``train``, ``dev``, ``test``): every sentence with its binary constituency tree.

    Columns: ``parents``/``slots`` (leaves first, then internal nodes in post-order, root last),
    ``tokens`` (the leaves' words, PTB escapes undone), ``labels`` (every node's sentiment 0-4),
    ``label`` (the root's), ``ptb`` (the line as it is) and ``line`` (its number in the file).
    """
    path = Path(data_root) / "sst" / "trees" / f"{split}.txt"
    columns: dict[str, list] = {"parents": [], "slots": [], "tokens": [], "labels": [], "label": [], "ptb": [],
                                "line": []}
    for k, line in enumerate(read_lines(path, f"SST {split}"), 1):
        try:
            tree = from_ptb(line)
        except ValueError as error:
            raise UserError(f"{path}:{k}: {error}") from None
        wrong = sorted(set(tree.labels) - set("01234"))
        if wrong:
            raise UserError(f"{path}:{k}: sentiment labels must be 0-4, got {', '.join(map(repr, wrong))}")
        labels = [int(label) for label in tree.labels]
        columns["parents"].append(tree.parents.tolist())
        columns["slots"].append(tree.slots.tolist())
        columns["tokens"].append([unescape_ptb(t) for t in tree.tokens if t is not None])
        columns["labels"].append(labels)
        columns["label"].append(labels[tree.root])
        columns["ptb"].append(line)
        columns["line"].append(k)
    if not columns["label"]:
        raise UserError(f"{path}: no trees in the file")
    return Dataset.from_dict(columns)
