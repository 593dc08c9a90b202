"""CoNLL-2003 English named-entity recognition (``conll2003/eng.{train,testa,testb}``).

One token per line, four space-separated columns ``word POS chunk NE``, e.g. ``Alice NNP I-NP I-PER``;
the chunk and NE tags are IOB1 (``B-`` only where an entity directly follows another of its type).
A blank line ends a sentence (the last one may lack it). Each article begins with a line
``-DOCSTART- -X- O O`` (in ``eng.testb``: ``-DOCSTART- -X- -X- O``), which is not a sentence but a
document boundary (it also ends an open sentence). Splits: ``eng.train`` is train, ``eng.testa`` dev
and ``eng.testb`` test.

The datasets have columns ``tokens``, ``pos``, ``chunk``, ``tags`` (lists of strings, as in the file)
and ``document`` (the 0-based index of the sentence's article; 0 throughout a file without
``-DOCSTART-`` lines). Use :func:`treelstm.tags.spans` with the ``iob1`` scheme for the entities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from datasets import Dataset

from treelstm.data.common import read_lines
from treelstm.tags import split_tag

__all__ = ["read_conll", "read_conll2003"]

FILES = {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"}
COLUMNS = ("tokens", "pos", "chunk", "tags")
DOCSTART = "-DOCSTART-"


def read_conll(path: Path, what: str = "CoNLL file", types: Sequence[str] | None = None) -> Dataset:
    """The sentences of one CoNLL-2003-format file (``what`` names it if it is missing); with ``types``,
    an entity of another type is an error."""
    path = Path(path)
    columns: dict[str, list] = {name: [] for name in (*COLUMNS, "document")}
    sentence: list[list[str]] = []
    document, started = 0, False  # started: a sentence or -DOCSTART- has been seen

    def close_sentence() -> None:
        if sentence:
            for name, values in zip(COLUMNS, zip(*sentence)):
                columns[name].append(list(values))
            columns["document"].append(document)
            sentence.clear()

    for k, line in enumerate(read_lines(path, what), 1):
        parts = line.split()
        if not parts:
            close_sentence()
            continue
        if len(parts) != 4:
            raise ValueError(f"{path}:{k}: expected 4 space-separated columns (word POS chunk NE), found {len(parts)}")
        try:
            _, kind = split_tag(parts[3], "iob1")
        except ValueError:
            raise ValueError(f"{path}:{k}: expected an IOB1 NE tag (O, I-TYPE or B-TYPE), found {parts[3]!r}") from None
        if types is not None and kind and kind not in types:
            raise ValueError(f"{path}:{k}: entity type {kind!r} is not in data.entity_types ({', '.join(types)})")
        if parts[0] == DOCSTART:
            close_sentence()
            if started:
                document += 1
        else:
            sentence.append(parts)
        started = True
    close_sentence()
    if not columns["tokens"]:
        raise ValueError(f"{path}: no sentences in the file")
    return Dataset.from_dict(columns)


def read_conll2003(data_root: Path, split: str, types: Sequence[str] | None = None) -> Dataset:
    """One CoNLL-2003 English NER split: ``train`` (eng.train), ``dev`` (eng.testa) or ``test`` (eng.testb);
    ``types``: the entity types allowed (default: any)."""
    if split not in FILES:
        raise ValueError(f"CoNLL-2003 splits are train, dev and test, not {split!r}")
    return read_conll(Path(data_root) / "conll2003" / FILES[split], f"CoNLL-2003 {split}", types)
