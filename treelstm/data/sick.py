"""SICK as preprocessed by Tai et al. (``sick/treelstm/{train,dev,test}/``): tokens, dependency
``.parents``, constituency ``.cparents`` and ``sim.txt``, one line per pair and sentence."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from treelstm.errors import UserError
from treelstm.files import read_lines
from treelstm.trees import from_parents

__all__ = ["read_sick"]

FILES = ("id.txt", "sim.txt", "a.toks", "b.toks", "a.parents", "b.parents", "a.cparents", "b.cparents")


def read_sick(data_root: Path, split: str) -> Dataset:
    """One SICK split (``train``, ``dev`` = the SemEval trial set, ``test``).

    Columns: ``id``, ``score`` (relatedness in [1, 5]) and, for sentence ``a`` and ``b``:
    ``{s}_tokens``, ``{s}_dep_parents``/``{s}_dep_slots`` (the dependency tree, 0-based parents,
    -1 = root) and ``{s}_con_parents``/``{s}_con_slots`` (the binary constituency tree, leaves first).
    """
    folder = Path(data_root) / "sick" / "treelstm" / split
    lines = {name: read_lines(folder / name, f"SICK {split}") for name in FILES}
    n = len(lines["id.txt"])
    if n == 0:
        raise UserError(f"{folder / 'id.txt'}: no sentence pairs in the file")
    for name, content in lines.items():
        if len(content) != n:
            raise UserError(f"{folder / name}: {len(content)} lines, but {folder / 'id.txt'} has {n}")
    columns: dict[str, list] = {"id": lines["id.txt"], "score": []}
    for k, text in enumerate(lines["sim.txt"], 1):
        try:
            score = float(text)
        except ValueError:
            score = float("nan")
        if not 1 <= score <= 5:
            raise UserError(f"{folder / 'sim.txt'}:{k}: expected a relatedness score in [1, 5], got {text!r}")
        columns["score"].append(score)
    for side in "ab":
        tokens = [line.split() for line in lines[f"{side}.toks"]]
        for k, words in enumerate(tokens, 1):
            if not words:
                raise UserError(f"{folder / f'{side}.toks'}:{k}: empty sentence, expected tokens")
        columns[f"{side}_tokens"] = tokens
        for kind, name, binary in (("dep", f"{side}.parents", None), ("con", f"{side}.cparents", 2)):
            trees = [_tree(folder / name, k, line, words, binary) for k, (line, words) in
                     enumerate(zip(lines[name], tokens), 1)]
            columns[f"{side}_{kind}_parents"] = [t.parents.tolist() for t in trees]
            columns[f"{side}_{kind}_slots"] = [t.slots.tolist() for t in trees]
    return Dataset.from_dict(columns)


def _tree(path: Path, line_number: int, line: str, words: list[str], binary: int | None):
    expected = len(words) if binary is None else 2 * len(words) - 1
    if len(line.split()) != expected:
        raise UserError(
            f"{path}:{line_number}: expected {expected} parents for {len(words)} tokens, found {len(line.split())}"
        )
    try:
        return from_parents(line, words, max_children=binary)
    except ValueError as error:
        raise UserError(f"{path}:{line_number}: {error}") from None
