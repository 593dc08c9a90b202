"""Tagging schemes for spans (named entities, chunks): IOB1, IOB2 and IOBES.

A tag is ``O`` (outside) or ``PREFIX-TYPE``, the type any non-empty string without whitespace (it may
hold hyphens: ``B-creative-work`` is the prefix ``B`` and the type ``creative-work``). For the
entities *Alice* (PER), *Bob Smith* (PER) and *Acme* (ORG) in "Alice Bob Smith of Acme":

=======  =====  =====  =====  ===  =====  ========================================================
scheme   Alice  Bob    Smith  of   Acme   prefixes
=======  =====  =====  =====  ===  =====  ========================================================
iob1     I-PER  B-PER  I-PER  O    I-ORG  I- inside; B- only to begin an entity that directly follows
                                          another of its type (CoNLL-2003)
iob2     B-PER  B-PER  I-PER  O    B-ORG  B- begins every entity, I- continues it
iobes    S-PER  B-PER  E-PER  O    S-ORG  S- single token; B- begin, I- inside, E- end of longer ones
=======  =====  =====  =====  ===  =====  ========================================================

Decoding follows conlleval, so it also reads ill-formed model output: an I- (or E-) tag that does
not continue an open entity of its type begins a new one. Tags that are not of the scheme at all
raise ValueError.

>>> tags = ["I-PER", "B-PER", "I-PER", "O", "I-ORG"]
>>> spans(tags, "iob1")
[(0, 1, 'PER'), (1, 3, 'PER'), (4, 5, 'ORG')]
>>> convert(tags, "iob1", "iobes")
['S-PER', 'B-PER', 'E-PER', 'O', 'S-ORG']
>>> spans(["O", "I-PER", "I-PER", "B-LOC"], "iob2")
[(1, 3, 'PER'), (3, 4, 'LOC')]
>>> to_tags([(1, 3, "ORG")], 4, "iob2")
['O', 'B-ORG', 'I-ORG', 'O']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

__all__ = [
    "SCHEMES", "allowed_transitions", "convert", "detect_scheme", "spans", "split_tag", "tag_names", "to_tags",
]

SCHEMES: dict[str, tuple[str, ...]] = {"iob1": ("B", "I"), "iob2": ("B", "I"), "iobes": ("B", "I", "E", "S")}
"""The tag prefixes of each scheme (besides the tag ``O``)."""

Span = tuple[int, int, str]


def _prefixes(scheme: str) -> tuple[str, ...]:
    if scheme not in SCHEMES:
        raise ValueError(f"tagging schemes are {', '.join(SCHEMES)}, not {scheme!r}")
    return SCHEMES[scheme]


def _is_type(kind: object) -> bool:
    return isinstance(kind, str) and bool(kind) and not any(ch.isspace() for ch in kind)


def tag_names(types: Sequence[str], scheme: str) -> list[str]:
    """Every tag of ``scheme`` for the entity ``types``: ``O``, then each type's tags.

    >>> tag_names(["LOC", "PER"], "iob2")
    ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']
    """
    prefixes = _prefixes(scheme)
    return ["O", *(f"{prefix}-{kind}" for kind in types for prefix in prefixes)]


def split_tag(tag: str, scheme: str) -> tuple[str, str]:
    """``(prefix, type)`` of a tag of ``scheme``: ``("O", "")`` for ``O``, ``("B", "PER")`` for ``B-PER``.

    >>> split_tag("E-MISC", "iobes")
    ('E', 'MISC')
    """
    prefixes = _prefixes(scheme)
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag[:1], tag[1:2], tag[2:]
    if prefix not in prefixes or dash != "-" or not _is_type(kind):
        expected = ", ".join(f"{p}-TYPE" for p in prefixes)
        raise ValueError(f"{tag!r} is not an {scheme} tag (expected O, {expected})")
    return prefix, kind


def detect_scheme(sentences: Iterable[Sequence[str]]) -> str:
    """The scheme (str) a corpus of tag sequences is written in: ``"iobes"`` if any tag is E- or S-;
    else ``"iob2"`` if some entity begins with B- after ``O``, the sentence start or another type (B-
    begins entities); else ``"iob1"`` (B- only between adjacent entities of one type). An all-``O``
    corpus is ``"iob2"``. A tag that is not ``O`` or B-/I-/E-/S-TYPE is a ValueError.

    >>> detect_scheme([["B-PER", "I-PER", "O"], ["O", "B-LOC"]])
    'iob2'
    >>> detect_scheme([["I-PER", "B-PER", "O", "I-LOC"]])
    'iob1'
    >>> detect_scheme([["S-PER", "O", "B-ORG", "E-ORG"]])
    'iobes'
    """
    begins = entities = iobes = False  # begins: a B- tag after O, the start or another type
    for sentence in sentences:
        previous = ("O", "")
        for tag in sentence:
            prefix, kind = split_tag(tag, "iobes")
            iobes = iobes or prefix in ("E", "S")
            entities = entities or prefix != "O"
            if prefix == "B" and (previous[0] == "O" or previous[1] != kind):
                begins = True
            previous = (prefix, kind)
    if iobes:
        return "iobes"
    return "iob2" if begins or not entities else "iob1"


def spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """The entities ``(start, end_exclusive, type)`` of a tag sequence, in order (conlleval's reading)."""
    _prefixes(scheme)
    found: list[Span] = []
    start, kind = None, ""  # the open entity, which an I- or E- tag of its type continues
    for position, tag in enumerate(tags):
        try:
            prefix, tag_kind = split_tag(tag, scheme)
        except ValueError as error:
            raise ValueError(f"position {position}: {error}") from None
        if start is not None and (prefix not in ("I", "E") or tag_kind != kind):
            found.append((start, position, kind))
            start = None
        if prefix != "O" and start is None:
            start, kind = position, tag_kind
        if prefix in ("E", "S"):
            found.append((start, position + 1, kind))
            start = None
    if start is not None:
        found.append((start, len(tags), kind))
    return found


def to_tags(entities: Iterable[Span], length: int, scheme: str) -> list[str]:
    """The tags of ``length`` tokens holding the non-overlapping ``entities`` (the inverse of :func:`spans`)."""
    _prefixes(scheme)
    tags = ["O"] * length
    previous_end, previous_kind = -1, ""
    for start, end, kind in sorted(entities):
        if not 0 <= start < end <= length:
            raise ValueError(f"span {(start, end, kind)} is not a non-empty span of {length} tokens")
        if start < previous_end:
            raise ValueError(f"span {(start, end, kind)} overlaps a span ending at {previous_end}")
        if not _is_type(kind):
            raise ValueError(f"span {(start, end, kind)}: the type must be a non-empty string without whitespace")
        if scheme == "iobes" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            tags[start:end] = [f"I-{kind}"] * (end - start)
            if scheme != "iob1" or (start == previous_end and kind == previous_kind):
                tags[start] = f"B-{kind}"
            if scheme == "iobes":
                tags[end - 1] = f"E-{kind}"
        previous_end, previous_kind = end, kind
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """``tags`` of the ``source`` scheme rewritten in the ``target`` scheme (same entities)."""
    return to_tags(spans(tags, source), len(tags), target)


def _follows(before: tuple[str, str], after: tuple[str, str], scheme: str) -> bool:
    """Whether the tag ``after`` may follow ``before`` (``("O", "")`` stands for the start)."""
    (prefix, kind), (next_prefix, next_kind) = before, after
    continues = prefix in ("B", "I") and kind == next_kind  # ``before`` leaves an entity of this type open
    if scheme == "iob1":
        return next_prefix != "B" or continues
    if scheme == "iob2":
        return next_prefix != "I" or continues
    if prefix in ("B", "I"):
        return next_prefix in ("I", "E") and continues
    return next_prefix in ("O", "B", "S")


def allowed_transitions(tag_names: Sequence[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """Hard constraints for a CRF over ``tag_names``: bool tensors ``allowed`` (T, T) (``allowed[i, j]``:
    tag j may follow tag i), ``allowed_start`` (T,) and ``allowed_end`` (T,).

    >>> allowed, start, end = allowed_transitions(["O", "B-PER", "I-PER"], "iob2")
    >>> allowed.int().tolist(), start.tolist(), end.tolist()
    ([[1, 1, 0], [1, 1, 1], [1, 1, 1]], [True, True, False], [True, True, True])
    """
    _prefixes(scheme)
    parsed = []
    for index, name in enumerate(tag_names):
        try:
            parsed.append(split_tag(name, scheme))
        except ValueError as error:
            raise ValueError(f"tag name {index}: {error}") from None
    outside = ("O", "")
    allowed = torch.tensor([[_follows(a, b, scheme) for b in parsed] for a in parsed], dtype=torch.bool)
    start = torch.tensor([_follows(outside, b, scheme) for b in parsed], dtype=torch.bool)
    end = torch.tensor([_follows(a, outside, scheme) for a in parsed], dtype=torch.bool)
    return allowed.reshape(len(parsed), len(parsed)), start, end
