"""CoNLL-2003 English named-entity recognition (``conll2003/eng.{train,testa,testb}``).

One token per line, four space-separated columns ``word POS chunk NE``, e.g. ``Alice NNP I-NP I-PER``;
the chunk and NE tags are IOB1 (``B-`` only where an entity directly follows another of its type).
A blank line ends a sentence (the last one may lack it). Each article begins with a line
``-DOCSTART- -X- O O`` (in ``eng.testb``: ``-DOCSTART- -X- -X- O``), which is not a sentence but a
document boundary (it also ends an open sentence). Splits: ``eng.train`` is train, ``eng.testa`` dev
and ``eng.testb`` test.

The datasets have columns ``tokens``, ``pos``, ``chunk``, ``tags`` (lists of strings, as in the file)
and ``document`` (the 0-based index of the sentence's article; 0 throughout a file without
``-DOCSTART-`` lines). Use :func:`treelstm.text.tags.spans` with the ``iob1`` scheme for the entities.

Users' own CoNLL-style files (any column layout, IOB1, IOB2 or IOBES tags, any encoding) are read by
:func:`read_conll_columns`, e.g. ``read_conll_columns(path, token=0, tag=-1)`` for WNUT-17's
``word<TAB>tag`` lines: columns ``tokens`` and ``tags``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from datasets import Dataset

from treelstm.errors import UserError
from treelstm.files import read_lines
from treelstm.text.tags import split_tag

__all__ = ["read_conll", "read_conll2003", "read_conll_columns"]

FILES = {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"}
COLUMNS = ("tokens", "pos", "chunk", "tags")
DOCSTART = "-DOCSTART-"
T = TypeVar("T")


def _sentences(path: Path, what: str, encoding: str,
               check: Callable[[int, list[str]], T]) -> Iterator[tuple[int, list[T]]]:
    """``(document, rows)`` for each sentence of a CoNLL-style file: ``check(line_number, columns)``
    turns each non-blank line (``-DOCSTART-`` lines included) into its row, or raises. Blank or
    whitespace-only lines end sentences; a line whose first column is ``-DOCSTART-`` ends the open
    sentence and begins a document (the first one unless something came before it)."""
    sentence: list[T] = []
    document, started = 0, False  # started: a sentence or -DOCSTART- has been seen
    for k, line in enumerate(read_lines(path, what, encoding), 1):
        parts = line.split()
        if not parts:
            if sentence:
                yield document, sentence
                sentence = []
            continue
        row = check(k, parts)
        if parts[0] == DOCSTART:
            if sentence:
                yield document, sentence
                sentence = []
            document += started
        else:
            sentence.append(row)
        started = True
    if sentence:
        yield document, sentence


def read_conll(path: Path, what: str = "CoNLL file", types: Sequence[str] | None = None) -> Dataset:
    """The sentences of one CoNLL-2003-format file (``what`` names it if it is missing); with ``types``,
    an entity of another type is an error."""
    path = Path(path)

    def check(k: int, parts: list[str]) -> list[str]:
        if len(parts) != 4:
            raise UserError(f"{path}:{k}: expected 4 space-separated columns (word POS chunk NE), found {len(parts)}")
        try:
            _, kind = split_tag(parts[3], "iob1")
        except ValueError:
            raise UserError(f"{path}:{k}: expected an IOB1 NE tag (O, I-TYPE or B-TYPE), found {parts[3]!r}") from None
        if types is not None and kind and kind not in types:
            raise UserError(f"{path}:{k}: entity type {kind!r} is not in data.entity_types ({', '.join(types)})")
        return parts

    columns: dict[str, list] = {name: [] for name in (*COLUMNS, "document")}
    for document, sentence in _sentences(path, what, "utf-8", check):
        for name, values in zip(COLUMNS, zip(*sentence)):
            columns[name].append(list(values))
        columns["document"].append(document)
    if not columns["tokens"]:
        raise UserError(f"{path}: no sentences in the file")
    return Dataset.from_dict(columns)


def read_conll_columns(path: Path, *, token: int = 0, tag: int = -1, encoding: str = "utf-8",
                       what: str = "CoNLL file") -> Dataset:
    """The sentences of a CoNLL-style file of any column layout: a dataset with the columns ``tokens``
    and ``tags`` (list[str] each), one row per sentence.

    Columns are split at runs of spaces or tabs; ``token`` and ``tag`` are 0-based column indices
    (negative ones count from the end), other columns (POS, chunk...) are ignored. Blank or
    whitespace-only lines end sentences; a line whose first column is ``-DOCSTART-`` is a document
    break (it also ends an open sentence). Every tag must be ``O`` or ``B-``/``I-``/``E-``/``S-TYPE``
    (the type may hold hyphens); :func:`treelstm.text.tags.detect_scheme` tells the scheme.
    """
    path = Path(path)
    need = max(token + 1 if token >= 0 else -token, tag + 1 if tag >= 0 else -tag)

    def check(k: int, parts: list[str]) -> tuple[str, str] | None:
        if parts[0] == DOCSTART:
            return None
        if len(parts) < need:
            raise UserError(f"{path}:{k}: expected at least {need} columns (token at {token}, tag at {tag}), "
                             f"found {len(parts)}")
        try:
            split_tag(parts[tag], "iobes")
        except ValueError:
            raise UserError(f"{path}:{k}: expected a tag O or B-/I-/E-/S-TYPE in column {tag}, "
                             f"found {parts[tag]!r}") from None
        return parts[token], parts[tag]

    columns: dict[str, list[list[str]]] = {"tokens": [], "tags": []}
    for _, sentence in _sentences(path, what, encoding, check):
        columns["tokens"].append([row[0] for row in sentence])
        columns["tags"].append([row[1] for row in sentence])
    if not columns["tokens"]:
        raise UserError(f"{path}: no sentences in the file")
    return Dataset.from_dict(columns)


def read_conll2003(data_root: Path, split: str, types: Sequence[str] | None = None) -> Dataset:
    """One CoNLL-2003 English NER split: ``train`` (eng.train), ``dev`` (eng.testa) or ``test`` (eng.testb);
    ``types``: the entity types allowed (default: any)."""
    if split not in FILES:
        raise UserError(f"CoNLL-2003 splits are train, dev and test, not {split!r}")
    return read_conll(Path(data_root) / "conll2003" / FILES[split], f"CoNLL-2003 {split}", types)
