"""Tagging schemes: CoNLL hand examples, conlleval's reading of ill-formed tags, round trips, CRF constraints."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from treelstm.text.tags import SCHEMES, allowed_transitions, convert, spans, to_tags

SCHEME_NAMES = sorted(SCHEMES)

TYPES = st.one_of(
    st.sampled_from(["PER", "LOC", "ORG", "MISC"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Z", "Cc", "Cs")), min_size=1, max_size=4).filter(
        lambda kind: not any(ch.isspace() for ch in kind)
    ),
)


@st.composite
def entity_lists(draw, max_length=16, types=TYPES):
    """``(length, spans)``: random non-overlapping spans, often adjacent and often of the same type."""
    length = draw(st.integers(0, max_length))
    found, position = [], 0
    while position < length and draw(st.booleans()):
        start = position + draw(st.integers(0, 2))
        if start >= length:
            break
        end = draw(st.integers(start + 1, min(length, start + 4)))
        found.append((start, end, draw(types)))
        position = end
    return length, found


def test_iob1_to_iob2_hand_examples():
    assert convert(["I-ORG", "O", "I-MISC", "O"], "iob1", "iob2") == ["B-ORG", "O", "B-MISC", "O"]
    assert spans(["I-PER", "B-PER"], "iob1") == [(0, 1, "PER"), (1, 2, "PER")]
    assert convert(["I-PER", "B-PER", "I-PER"], "iob1", "iob2") == ["B-PER", "B-PER", "I-PER"]
    assert convert(["I-PER", "I-LOC"], "iob1", "iob2") == ["B-PER", "B-LOC"]  # a new type begins an entity


def test_iobes_hand_examples():
    tags = ["S-PER", "B-ORG", "I-ORG", "E-ORG", "O", "B-LOC", "E-LOC", "S-LOC"]
    assert spans(tags, "iobes") == [(0, 1, "PER"), (1, 4, "ORG"), (5, 7, "LOC"), (7, 8, "LOC")]
    assert convert(tags, "iobes", "iob1") == ["I-PER", "I-ORG", "I-ORG", "I-ORG", "O", "I-LOC", "I-LOC", "B-LOC"]
    assert convert(["I-PER", "B-PER", "I-PER", "O"], "iob1", "iobes") == ["S-PER", "B-PER", "E-PER", "O"]


def test_to_tags_hand_examples():
    entities = [(3, 4, "LOC"), (0, 2, "PER"), (2, 3, "PER")]  # any order
    assert to_tags(entities, 5, "iob1") == ["I-PER", "I-PER", "B-PER", "I-LOC", "O"]
    assert to_tags(entities, 5, "iob2") == ["B-PER", "I-PER", "B-PER", "B-LOC", "O"]
    assert to_tags(entities, 5, "iobes") == ["B-PER", "E-PER", "S-PER", "S-LOC", "O"]
    assert to_tags([], 2, "iobes") == ["O", "O"] and spans([], "iob2") == []


@pytest.mark.parametrize(
    "tags, scheme, expected",
    [
        (["O", "I-PER", "I-PER"], "iob2", [(1, 3, "PER")]),  # I- after O begins an entity
        (["B-PER", "I-LOC"], "iob2", [(0, 1, "PER"), (1, 2, "LOC")]),  # I- of another type too
        (["O", "I-PER", "E-PER"], "iobes", [(1, 3, "PER")]),
        (["O", "E-PER", "E-PER"], "iobes", [(1, 2, "PER"), (2, 3, "PER")]),  # E- after E- begins (and ends) one
        (["S-PER", "I-PER", "O"], "iobes", [(0, 1, "PER"), (1, 2, "PER")]),
        (["B-PER", "I-PER"], "iobes", [(0, 2, "PER")]),  # unfinished at the end
        (["B-ORG", "O", "B-ORG"], "iob1", [(0, 1, "ORG"), (2, 3, "ORG")]),  # B- after O: read as conlleval does
    ],
)
def test_lenient_like_conlleval(tags, scheme, expected):
    assert spans(tags, scheme) == expected


@pytest.mark.parametrize(
    "tags, scheme, message",
    [
        (["O", "X-PER"], "iob2", "position 1: 'X-PER' is not an iob2 tag"),
        (["B-"], "iob1", "position 0: 'B-' is not an iob1 tag"),
        (["B-PER", "E-PER"], "iob2", "position 1: 'E-PER' is not an iob2 tag \\(expected O, B-TYPE, I-TYPE\\)"),
        (["S-PER"], "iob1", "position 0: 'S-PER'"),
        (["o"], "iobes", "position 0: 'o'"),
        (["BPER"], "iob2", "position 0: 'BPER'"),
        (["B-P ER"], "iob2", "position 0: 'B-P ER'"),
        ([""], "iob2", "position 0: ''"),
        (["O"], "bilou", "tagging schemes are iob1, iob2, iobes, not 'bilou'"),
    ],
)
def test_malformed_tags_raise(tags, scheme, message):
    with pytest.raises(ValueError, match=message):
        spans(tags, scheme)


@pytest.mark.parametrize(
    "entities, length, message",
    [
        ([(0, 2, "PER"), (1, 3, "LOC")], 4, "overlaps"),
        ([(2, 2, "PER")], 4, "not a non-empty span"),
        ([(3, 5, "PER")], 4, "not a non-empty span of 4 tokens"),
        ([(0, 1, "")], 4, "type must be a non-empty string"),
        ([(0, 1, "A B")], 4, "type must be a non-empty string"),
    ],
)
def test_to_tags_rejects_bad_spans(entities, length, message):
    with pytest.raises(ValueError, match=message):
        to_tags(entities, length, "iob2")


@settings(max_examples=200, deadline=None)
@given(entity_lists(), st.sampled_from(SCHEME_NAMES))
def test_spans_round_trip(example, scheme):
    length, entities = example
    tags = to_tags(entities, length, scheme)
    assert len(tags) == length
    assert spans(tags, scheme) == entities


@settings(max_examples=200, deadline=None)
@given(entity_lists(), st.sampled_from(SCHEME_NAMES), st.sampled_from(SCHEME_NAMES))
def test_convert_preserves_spans(example, source, target):
    length, entities = example
    converted = convert(to_tags(entities, length, source), source, target)
    assert converted == to_tags(entities, length, target)
    assert spans(converted, target) == entities


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC"]), max_size=12))
def test_lenient_output_normalises(tags):
    """Ill-formed IOBES output decodes to spans that a re-encoding reproduces exactly."""
    found = spans(tags, "iobes")
    assert all(0 <= s < e <= len(tags) for s, e, _ in found) and all(a[1] <= b[0] for a, b in zip(found, found[1:]))
    for scheme in SCHEME_NAMES:
        assert spans(convert(tags, "iobes", scheme), scheme) == found


def tag_names(scheme):
    return ["O"] + [f"{p}-{kind}" for kind in ("PER", "LOC") for p in SCHEMES[scheme]]


@settings(max_examples=200, deadline=None)
@given(entity_lists(types=st.sampled_from(["PER", "LOC"])), st.sampled_from(SCHEME_NAMES))
def test_to_tags_output_is_allowed(example, scheme):
    length, entities = example
    names = tag_names(scheme)
    allowed, start, end = allowed_transitions(names, scheme)
    index = [names.index(tag) for tag in to_tags(entities, length, scheme)]
    if index:
        assert start[index[0]] and end[index[-1]]
    assert all(allowed[i, j] for i, j in zip(index, index[1:]))


def test_allowed_transitions_shapes_and_hand_checks():
    names = tag_names("iobes")  # O B-PER I-PER E-PER S-PER B-LOC I-LOC E-LOC S-LOC
    allowed, start, end = allowed_transitions(names, "iobes")
    assert allowed.shape == (9, 9) and start.shape == end.shape == (9,) and allowed.dtype == torch.bool
    pair = {(a, b): bool(allowed[i, j]) for i, a in enumerate(names) for j, b in enumerate(names)}
    assert pair["B-PER", "I-PER"] and pair["I-PER", "E-PER"] and pair["E-PER", "B-PER"] and pair["S-PER", "S-PER"]
    assert not pair["B-PER", "O"] and not pair["B-PER", "E-LOC"] and not pair["I-PER", "B-PER"]
    assert not pair["O", "I-PER"] and not pair["E-PER", "I-PER"] and not pair["S-LOC", "E-LOC"]
    assert [n for n, ok in zip(names, start) if ok] == ["O", "B-PER", "S-PER", "B-LOC", "S-LOC"]
    assert [n for n, ok in zip(names, end) if ok] == ["O", "E-PER", "S-PER", "E-LOC", "S-LOC"]


def test_allowed_transitions_iob1_iob2():
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for scheme, bad_pairs, bad_starts in (
        ("iob2", {("O", "I-PER"), ("B-LOC", "I-PER"), ("I-LOC", "I-PER"), ("O", "I-LOC"), ("B-PER", "I-LOC"),
                  ("I-PER", "I-LOC")}, {"I-PER", "I-LOC"}),
        ("iob1", {("O", "B-PER"), ("B-LOC", "B-PER"), ("I-LOC", "B-PER"), ("O", "B-LOC"), ("B-PER", "B-LOC"),
                  ("I-PER", "B-LOC")}, {"B-PER", "B-LOC"}),
    ):
        allowed, start, end = allowed_transitions(names, scheme)
        assert {(a, b) for i, a in enumerate(names) for j, b in enumerate(names) if not allowed[i, j]} == bad_pairs
        assert {n for n, ok in zip(names, start) if not ok} == bad_starts
        assert end.all()


def test_allowed_transitions_rejects_foreign_tags():
    with pytest.raises(ValueError, match="tag name 2: 'S-PER' is not an iob2 tag"):
        allowed_transitions(["O", "B-PER", "S-PER"], "iob2")
    with pytest.raises(ValueError, match="tag name 0: '<pad>'"):
        allowed_transitions(["<pad>"], "iobes")
    allowed, start, end = allowed_transitions([], "iob1")
    assert allowed.shape == (0, 0) and start.shape == end.shape == (0,)
