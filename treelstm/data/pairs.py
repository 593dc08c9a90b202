"""Sentence-pair classification files: MSRP (Microsoft Research Paraphrase Corpus) and PAWS-Wiki.

* MSRP ``msrp/msr_paraphrase_{train,test}.txt``: UTF-8 with a byte-order mark, a header, then
  ``Quality <tab> #1 ID <tab> #2 ID <tab> #1 String <tab> #2 String`` (quality 1 = paraphrase).
  There is no official dev split (the ``msrp`` data format holds out a seeded 10% of train).
* PAWS-Wiki ``paws_wiki/{dev,test}.tsv``: ``id <tab> sentence1 <tab> sentence2 <tab> label``
  (no header; its train split is not available here).

Both give datasets with columns ``id``, ``sentence1``, ``sentence2``, ``label`` (0/1) of raw text.
"""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from treelstm.errors import UserError
from treelstm.files import read_lines

__all__ = ["read_msrp", "read_paws"]

MSRP_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]


def _rows(path: Path, lines: list[str], fields: int, label_at: int, first_line: int) -> list[list[str]]:
    rows = []
    for k, line in enumerate(lines, first_line):
        parts = line.split("\t")  # sentences hold unescaped quotes: no csv quoting
        if len(parts) != fields:
            raise UserError(f"{path}:{k}: expected {fields} tab-separated fields, found {len(parts)}")
        if parts[label_at] not in ("0", "1"):
            raise UserError(f"{path}:{k}: the label must be 0 or 1, got {parts[label_at]!r}")
        rows.append(parts)
    if not rows:
        raise UserError(f"{path}: no sentence pairs in the file")
    return rows


def read_msrp(data_root: Path, split: str) -> Dataset:
    """One MSRP file: ``train`` or ``test`` (there is no official dev split: the ``msrp`` data format
    holds out a seeded 10% of train, :func:`treelstm.data.sources.hold_out`)."""
    if split not in ("train", "test"):
        raise UserError(f"MSRP files are train and test, not {split!r}")
    path = Path(data_root) / "msrp" / f"msr_paraphrase_{split}.txt"
    lines = read_lines(path, f"MSRP {split}")
    if not lines or lines[0].split("\t") != MSRP_HEADER:
        raise UserError(f"{path}:1: expected the header {chr(9).join(MSRP_HEADER)!r}")
    rows = _rows(path, lines[1:], 5, 0, 2)
    return Dataset.from_dict({
        "id": [f"{r[1]}-{r[2]}" for r in rows],
        "sentence1": [r[3] for r in rows],
        "sentence2": [r[4] for r in rows],
        "label": [int(r[0]) for r in rows],
    })


def read_paws(data_root: Path, split: str) -> Dataset:
    """One PAWS-Wiki split (``dev`` or ``test``; the train split is not available here)."""
    path = Path(data_root) / "paws_wiki" / f"{split}.tsv"
    lines = read_lines(path, f"PAWS-Wiki {split}")
    if lines and lines[0].split("\t")[0] == "id":  # the published files may carry a header
        lines, first = lines[1:], 2
    else:
        first = 1
    rows = _rows(path, lines, 4, 3, first)
    return Dataset.from_dict({
        "id": [r[0] for r in rows],
        "sentence1": [r[1] for r in rows],
        "sentence2": [r[2] for r in rows],
        "label": [int(r[3]) for r in rows],
    })
