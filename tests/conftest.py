"""Shared helpers: small random trees built from synthetic data (never the licensed datasets)."""

import numpy as np
import pytest

from treelstm import trees


def random_parents_line(n: int, rng: np.random.Generator) -> str:
    """A random dependency tree over n tokens as a 1-based ``.parents`` line."""
    order = rng.permutation(n)  # order[0] is the root; others attach to an earlier node
    head = np.zeros(n, dtype=int)
    for k in range(1, n):
        head[order[k]] = order[rng.integers(0, k)] + 1
    return " ".join(map(str, head))


def random_ptb(n: int, rng: np.random.Generator, labels: int = 5) -> str:
    """A random binary PTB tree over n leaves, e.g. ``(3 (1 w0) (4 w1))``."""

    def build(lo: int, hi: int) -> str:
        label = rng.integers(0, labels)
        if hi - lo == 1:
            return f"({label} w{lo})"
        mid = int(rng.integers(lo + 1, hi))
        return f"({label} {build(lo, mid)} {build(mid, hi)})"

    return build(0, n)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def mixed_trees(rng):
    """Dependency trees, binary constituency trees and a chain, of assorted sizes."""
    return (
        [trees.from_parents(random_parents_line(n, rng)) for n in (1, 2, 5, 9, 14)]
        + [trees.from_ptb(random_ptb(n, rng)) for n in (1, 2, 3, 7, 12)]
        + [trees.chain(6)]
    )


@pytest.fixture
def binary_trees(rng):
    return [trees.from_ptb(random_ptb(n, rng)) for n in (1, 2, 4, 6, 9, 13)]
