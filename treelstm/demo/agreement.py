"""Subject-verb agreement across ``d`` intervening words, with a dependency tree per sentence.

A sentence is a subject noun, then exactly ``d`` intervening words, then the verb's slot::

    dogs  whom I adopted in 2009 near the old cat  <verb>      -> plural ("chase")
    dog   that the boys saw often                  <verb>      -> singular ("chases")

The label is the subject's number (0 singular, 1 plural): the verb must agree with the first
word, however far away it is. The intervening words are phrases attached to the subject
(prepositional phrases, relative clauses, "in 2009", a final adverb), and they hold *attractors*:
nouns of either number, drawn independently of the subject's, from the same nouns the subject is
drawn from. So neither the most recent noun nor any word other than the first tells the number:
the first word must be carried to the end.

Each sentence comes with its dependency tree: the verb's slot is the root, the subject is its
child (``nsubj``), and every intervening phrase hangs below the subject (or below a noun or
verb inside an earlier phrase), except the final adverb, which hangs from the verb. Whatever
``d`` is, the subject is one edge from the root: a Tree-LSTM over this tree gets a shortcut
the chain models do not have. That is the point of the demonstration, not a trick: it is what a
parse gives a Tree-LSTM on real sentences too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from treelstm import trees

__all__ = ["Example", "VOCABULARY", "VERB", "generate", "sentence"]

SINGULAR = ("dog", "cat", "boy", "girl", "teacher")
PLURAL = ("dogs", "cats", "boys", "girls", "teachers")
ADJECTIVES = ("big", "old", "small", "happy")
PREPOSITIONS = ("near", "with", "behind", "of")
PAST_VERBS = ("saw", "liked", "adopted", "fed")  # past tense: no agreement inside the clause
YEARS = ("2009", "2010", "2011")
ADVERBS = ("often", "also", "really")
VERB = "<verb>"
VOCABULARY = (SINGULAR + PLURAL + ADJECTIVES + PREPOSITIONS + PAST_VERBS + YEARS + ADVERBS
              + ("the", "that", "whom", "I", "in", VERB))
_INDEX = {word: k for k, word in enumerate(VOCABULARY)}
_MAX_ADJECTIVES = 2


@dataclass(frozen=True, eq=False)
class Example:
    """One sentence.

    Attributes:
        tokens: the ``d + 2`` words: the subject, ``d`` intervening words, :data:`VERB`.
        ids: ``(d + 2,)`` int64, the tokens' rows of :data:`VOCABULARY`.
        label: the subject's number, 0 singular, 1 plural.
        distance: ``d``, the number of words between the subject and the verb.
        tree: the dependency tree (root: the verb's slot, node ``t`` is token ``t``).
    """

    tokens: tuple[str, ...]
    ids: np.ndarray
    label: int
    distance: int
    tree: trees.Tree


def _pick(words: tuple[str, ...], rng: np.random.Generator) -> str:
    return words[int(rng.integers(len(words)))]


def _noun(rng: np.random.Generator) -> str:
    """A noun of random number (an attractor)."""
    return _pick(PLURAL if rng.random() < 0.5 else SINGULAR, rng)


def _phrase(kind: str, adjectives: int, rng: np.random.Generator) -> tuple[list[str], list[int], list[int]]:
    """One phrase: its words, each word's head *within the phrase* (``-1`` for the phrase's head,
    which the caller attaches), and the words later phrases may hang from without crossing an arc
    (a prepositional phrase's noun, a clause's verb)."""
    adj = [ADJECTIVES[k] for k in rng.permutation(len(ADJECTIVES))[:adjectives]]
    if kind == "pp":  # near the old cat: near -> cat, the -> cat, old -> cat
        n = 2 + adjectives
        return [_pick(PREPOSITIONS, rng), "the", *adj, _noun(rng)], [n] * n + [-1], [n]
    if kind == "rc":  # that the boys saw: that -> saw, the -> boys, boys -> saw
        n, v = 2 + adjectives, 3 + adjectives
        return ["that", "the", *adj, _noun(rng), _pick(PAST_VERBS, rng)], [v] + [n] * (n - 1) + [v, -1], [v]
    if kind == "whom":  # whom I adopted
        return ["whom", "I", _pick(PAST_VERBS, rng)], [2, 2, -1], [2]
    if kind == "year":  # in 2009: in -> 2009
        return ["in", _pick(YEARS, rng)], [1, -1], []
    raise ValueError(f"unknown phrase kind {kind!r}")


_SHORTEST = {"year": 2, "whom": 3, "pp": 3, "rc": 4}
_ADJECTIVES_OF = {"year": 0, "whom": 0, "pp": _MAX_ADJECTIVES, "rc": _MAX_ADJECTIVES}


def _lengths(left: int) -> list[tuple[str, int]]:
    """The (phrase kind, length) choices that fit in ``left`` words without leaving exactly one."""
    return [(kind, n) for kind, shortest in _SHORTEST.items()
            for n in range(shortest, shortest + _ADJECTIVES_OF[kind] + 1) if n <= left and left - n != 1]


def _slots(parents: list[int]) -> np.ndarray:
    """Each node's rank among its siblings by position (for a projective tree, the order
    :func:`treelstm.trees.from_parents` gives)."""
    seen: dict[int, int] = {}
    slots = np.zeros(len(parents), dtype=np.int64)
    for k, head in enumerate(parents):
        slots[k] = seen.get(head, 0)
        seen[head] = slots[k] + 1
    return slots


def sentence(label: int, distance: int, rng: np.random.Generator) -> Example:
    """One sentence whose subject has number ``label`` and ``distance`` words before the verb.

    Phrases hang from the subject or from a noun or clause verb of an earlier phrase, chosen on
    the right frontier (so no two arcs cross: the tree is projective).
    """
    if label not in (0, 1):
        raise ValueError(f"label must be 0 (singular) or 1 (plural), got {label}")
    if distance < 0:
        raise ValueError(f"distance must be at least 0, got {distance}")
    verb = distance + 1
    words, heads = [_pick(PLURAL if label else SINGULAR, rng)], [verb]  # nsubj
    adverb = distance == 1 or (distance > 2 and rng.random() < 0.25)
    left = distance - adverb  # never 1: every phrase but the adverb has two words or more
    frontier = [0]  # words the next phrase may hang from, left to right
    while left:
        choices = _lengths(left)
        kind, length = choices[int(rng.integers(len(choices)))]
        phrase, inner, sites = _phrase(kind, length - _SHORTEST[kind], rng)
        at, start = int(rng.integers(len(frontier))), len(words)
        words += phrase
        heads += [frontier[at] if h < 0 else start + h for h in inner]
        frontier = frontier[: at + 1] + [start + k for k in sites]
        left -= length
    if adverb:
        words.append(_pick(ADVERBS, rng))
        heads.append(verb)  # advmod
    words.append(VERB)
    heads.append(-1)
    tree = trees.Tree.of(heads, _slots(heads), words)
    return Example(tuple(words), np.array([_INDEX[w] for w in words], dtype=np.int64), label, distance, tree)


def generate(distances: Sequence[int], rng: np.random.Generator) -> list[Example]:
    """One sentence per entry of ``distances``, labels drawn at random (balanced on average).

    Example:
        >>> examples = generate([0, 5], np.random.default_rng(0))
        >>> [len(e.tokens) for e in examples], [e.tokens[-1] for e in examples]
        ([2, 7], ['<verb>', '<verb>'])
    """
    return [sentence(int(rng.integers(2)), int(d), rng) for d in distances]
