"""Drawing explanations: layout, colours, gate cells, legibility of a 40-word sentence, SVG and PNG files."""

import math
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest
from conftest import random_ptb
from matplotlib.collections import PathCollection
from PIL import Image

from treelstm import trees
from treelstm.viz.drawing import draw, figure, layout, output_paths
from treelstm.viz.explanation import ExplainedTree, Explanation

CLASSES = ("very negative", "negative", "neutral", "positive", "very positive")


def explained(tree, rng, gates=(), per_child="f", classes=5, H=4):
    """A tree with random per-node probabilities and gates (each name -> (n, H) in [0, 1])."""
    p = rng.dirichlet(np.ones(classes), tree.num_nodes)
    unknown = np.array([token == "zyx" for token in tree.tokens])
    return ExplainedTree(tree, p, {g: rng.uniform(size=(tree.num_nodes, H)) for g in gates}, per_child, unknown)


def explanation(*explained_trees):
    root = explained_trees[0].probabilities[explained_trees[0].tree.root]
    return Explanation("sentiment", CLASSES, ("−−", "−", "0", "+", "++"), explained_trees, root,
                       CLASSES[int(root.argmax())], "colour: the expected sentiment")


def words(n):
    return " ".join(f"w{k}" for k in range(n))


def test_output_paths():
    assert output_paths("out/a.svg") == output_paths("out/a.PNG") == output_paths("out/a")
    assert [str(p) for p in output_paths("out/a")] == ["out/a.svg", "out/a.png"]
    assert [str(p) for p in output_paths("a.v1")] == ["a.v1.svg", "a.v1.png"]


def test_layout_words_in_order_phrases_over_their_children_root_on_top():
    x, y = layout(trees.from_ptb("(3 (2 It) (4 (2 's) (4 great)))"))  # nodes: It 's great ('s great) root
    assert x.tolist() == [0, 1, 2, 1.5, 0.75] and y.tolist() == [1, 0, 0, 1, 2]
    x, y = layout(trees.from_parents("2 0 2 3", ["a", "dog", "barks", "loudly"]))  # every node a word
    assert x.tolist() == [0, 1, 2, 3] and y.tolist() == [1, 2, 1, 0]


def test_projective_trees_are_drawn_without_crossing_lines(rng):
    for n in (5, 12, 40):
        for tree in (trees.from_ptb(random_ptb(n, rng)),
                     trees.binarize(trees.from_parents(random_parents_line_projective(n, rng), words(n).split()))):
            x, y = layout(tree)
            child = np.flatnonzero(tree.parents >= 0)
            segments = [((x[c], y[c]), (x[tree.parents[c]], y[tree.parents[c]])) for c in child]
            assert not any(_cross(a, b) for k, a in enumerate(segments) for b in segments[k + 1:])


def random_parents_line_projective(n, rng):
    """A right-branching-or-left-branching chain mix: each word's head is a neighbour (projective)."""
    root = int(rng.integers(0, n))
    return [0 if k == root else (k + 2 if k < root else k) for k in range(n)]


def _cross(a, b):
    """Whether two segments cross at a point inside both (touching at an end point does not count)."""
    (p, q), (r, s) = np.array(a), np.array(b)
    d = lambda u, v, w: (v[0] - u[0]) * (w[1] - u[1]) - (v[1] - u[1]) * (w[0] - u[0])  # noqa: E731
    return d(p, q, r) * d(p, q, s) < 0 and d(r, s, p) * d(r, s, q) < 0


def test_node_colour_is_the_expected_class_and_cells_are_the_gates(rng):
    tree = trees.from_ptb("(3 (2 It) (4 (2 's) (4 great)))")
    one = explained(tree, rng, gates=("i", "o", "u", "f"))
    fig = figure(explanation(one))
    ax = fig.axes[0]
    nodes, input_gate, output_gate = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(nodes.get_array(), one.probabilities @ np.linspace(0, 1, 5))
    np.testing.assert_allclose(input_gate.get_array(), one.gates["i"].mean(axis=1))
    np.testing.assert_allclose(output_gate.get_array(), one.gates["o"].mean(axis=1))
    edges = ax.collections[0]
    forget = matplotlib.colormaps["viridis"](one.gates["f"][:4].mean(axis=1))  # the four children's rows
    np.testing.assert_allclose(edges.get_colors(), forget)
    symbols = [t.get_text() for t in ax.texts]
    assert symbols == [("−−", "−", "0", "+", "++")[k] for k in one.probabilities.argmax(axis=1)]
    assert "cells under each node: i | o; edge colour: f" in caption(fig)


def caption(fig):
    return " ".join(t.get_text().replace("\n", " ") for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_a_gru_draws_its_update_gate_and_per_child_reset_gate(rng):
    tree = trees.from_parents("2 0 2", ["a", "zyx", "barks"])
    fig = figure(explanation(explained(tree, rng, gates=("z", "h_hat", "r"), per_child="r")))
    text = caption(fig)
    assert "cells under each node: z;" in text and "edge colour: r" in text
    assert "grey italic words: not in the model's vocabulary" in text
    styles = {label.get_text(): label.get_fontstyle() for label in fig.axes[0].get_xticklabels()}
    assert styles == {"a": "normal", "zyx": "italic", "barks": "normal"}


def test_forty_words_stay_legible(rng):
    tree = trees.from_ptb(random_ptb(40, rng))
    fig = figure(explanation(explained(tree, rng, gates=("i", "o", "u", "f"))))
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = ax.get_xticklabels()
    assert len(labels) == 40
    step = (ax.transData.transform((1, 0)) - ax.transData.transform((0, 0)))[0] * 72 / fig.dpi  # points per word
    for label in labels:  # slanted words: the gap between neighbouring baselines fits a line of text
        assert step * math.sin(math.radians(label.get_rotation())) >= 1.5 * label.get_fontsize() >= 12
    level = (ax.transData.transform((0, 1)) - ax.transData.transform((0, 0)))[1] * 72 / fig.dpi
    assert level >= 19 + 7 + 6  # a node, its gate cells and some room fit between levels


def test_draw_writes_an_svg_with_the_words_and_a_png(rng, tmp_path):
    sentence = trees.from_ptb("(3 (2 It) (4 (2 's) (4 great)))")
    other = trees.from_parents("2 0 2", ["a", "dog", "barks"])
    svg, png = draw(explanation(explained(sentence, rng, gates=("i", "o", "u", "f")),
                                explained(other, rng, gates=("i", "o", "u", "f"))), tmp_path / "figs" / "x.png")
    assert (svg, png) == (tmp_path / "figs" / "x.svg", tmp_path / "figs" / "x.png")
    text = " ".join(ET.parse(svg).getroot().itertext())
    for word in ("It", "'s", "great", "a", "dog", "barks", "sentence 1", "sentence 2", "very positive"):
        assert word in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.size[0] >= 7 * 150 and image.size[1] > 300


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_word_sentences(rng, tmp_path, n):
    tree = trees.from_ptb(random_ptb(n, rng))
    svg, png = draw(explanation(explained(tree, rng)), tmp_path / "small")
    assert svg.stat().st_size > 0 and png.stat().st_size > 0
