"""Drawing an :class:`~treelstm.viz.explanation.Explanation`: each tree over its words, every node coloured by
the model's prediction for it and, when the explanation has gates, the gates; to SVG and PNG.

Layout: the tree hangs from its root at the top, every node at its depth; the words run along the
bottom in sentence order (slanted, so a 40-word sentence stays legible), each joined to its node by a
dotted line. A node with a word (a dependency tree's every node, a constituency tree's leaves) stands
above it; one without a word above the mean of its children. In a projective tree no lines cross.

Colours: a node's colour is its expected class, ``sum_c p_c c / (C - 1)`` in ``[0, 1]``, on a
diverging map (red: the first class, e.g. very negative; blue: the last); the symbol in it is its
most probable class. Gates (``i``, ``o``; a GRU's ``z``) are cells under each node and the per-child
gate (``f``; ``r``) the colour of the edge to the parent, each the mean over the ``H`` units.

Figures are built with matplotlib's object-oriented API (:class:`matplotlib.figure.Figure`), never through
pyplot: importing this module leaves the user's backend (a notebook's, say) alone.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from treelstm.trees import Tree
from treelstm.trees.schedule import heights
from treelstm.viz.explanation import ExplainedTree, Explanation

__all__ = ["draw", "figure", "layout", "output_paths"]

PREDICTION_MAP, GATE_MAP = "RdBu", "viridis"
CANDIDATES = ("u", "h_hat")  # the candidate values (tanh), not gates: not drawn
INCH_PER_WORD, INCH_PER_LEVEL = 0.42, 0.6
NODE, CELL = 19.0, 7.0  # node and gate cell sizes, points


def output_paths(output: str | Path) -> tuple[Path, Path]:
    """``OUTPUT.svg`` and ``OUTPUT.png``; a ``.svg`` or ``.png`` suffix of ``output`` is dropped first."""
    output = Path(output)
    if output.suffix.lower() in (".svg", ".png"):
        output = output.with_suffix("")
    return output.with_name(output.name + ".svg"), output.with_name(output.name + ".png")


def draw(explanation: Explanation, output: str | Path) -> tuple[Path, Path]:
    """Draw ``explanation`` to ``OUTPUT.svg`` (text kept as text) and ``OUTPUT.png``; returns both paths."""
    svg, png = output_paths(output)
    svg.parent.mkdir(parents=True, exist_ok=True)
    fig = figure(explanation)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(svg)
    fig.savefig(png, dpi=150)
    return svg, png


def layout(tree: Tree) -> tuple[np.ndarray, np.ndarray]:
    """Node positions ``(x, y)``, each ``(n,)``: ``x`` a word's place in the sentence, or for a node
    without a word the mean of its children's; ``y`` the depth below the root, counted up from the
    deepest node (the root highest)."""
    words = np.array([token is not None for token in tree.tokens])
    x = np.zeros(tree.num_nodes)
    x[words] = np.arange(words.sum())
    height = heights(tree.parents)
    for level in range(1, int(height.max()) + 1):
        for j in np.flatnonzero((height == level) & ~words):
            x[j] = x[tree.parents == j].mean()
    depth, up = np.zeros(tree.num_nodes), tree.parents.copy()
    while (up >= 0).any():
        depth += up >= 0
        up = np.where(up >= 0, tree.parents[up], -1)
    return x, depth.max() - depth


def figure(explanation: Explanation) -> Figure:
    """The figure :func:`draw` saves: one panel per tree, the prediction in the title."""
    trees = explanation.trees
    gates = bool(trees[0].gates)
    positions = [layout(t.tree) for t in trees]
    words = max(sum(token is not None for token in t.tree.tokens) for t in trees)
    panels = [INCH_PER_LEVEL * (y.max() + 1) + 1.1 for _, y in positions]
    width = max(7.0, INCH_PER_WORD * words + 3.0)
    fig = Figure(figsize=(width, sum(panels) + 1.3), layout="constrained")
    axes = fig.subplots(len(trees), 1, height_ratios=panels, squeeze=False)
    for k, (ax, explained, (x, y)) in enumerate(zip(axes[:, 0], trees, positions)):
        _draw_tree(ax, explained, x, y, explanation.symbols, gates)
        ax.set_xlim(-0.7, words - 0.3)
        if len(trees) > 1:
            ax.set_title(f"sentence {k + 1}", loc="left", fontsize=9)
    C = len(explanation.classes)
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), PREDICTION_MAP), ax=axes[:, 0], ticks=np.linspace(0, 1, C),
                       shrink=0.8, aspect=15, pad=0.01)
    bar.ax.set_yticklabels(explanation.classes, fontsize=8)
    notes = [explanation.node_colour]
    if gates:
        node_gates = " | ".join(_node_gates(trees[0]))
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), GATE_MAP), ax=axes[:, 0], shrink=0.8, aspect=15, pad=0.01)
        bar.set_label("gate, mean over the H units", fontsize=8)
        notes.append(f"cells under each node: {node_gates}; edge colour: {trees[0].per_child_gate} "
                     "(the gate the parent applies to this child's memory)")
    if any(t.unknown.any() for t in trees):
        notes.append("grey italic words: not in the model's vocabulary")
    chars = int(width * 13)
    fig.supxlabel(textwrap.fill("; ".join(notes), chars), fontsize=8)
    prediction = ", ".join(f"{name} {p:.2f}" for name, p in zip(explanation.classes, explanation.probabilities))
    fig.suptitle(textwrap.fill(f"{explanation.task}: {explanation.label}  ({prediction})", chars), fontsize=11)
    return fig


def _node_gates(explained: ExplainedTree) -> list[str]:
    return [name for name in explained.gates if name != explained.per_child_gate and name not in CANDIDATES]


def _draw_tree(ax, explained: ExplainedTree, x: np.ndarray, y: np.ndarray, symbols, gates: bool) -> None:
    tree, p = explained.tree, explained.probabilities
    value = p @ np.linspace(0, 1, p.shape[1])  # the expected class, scaled to [0, 1]
    child = np.flatnonzero(tree.parents >= 0)
    parent = tree.parents[child]
    edges = np.stack([np.c_[x[child], y[child]], np.c_[x[parent], y[parent]]], axis=1)
    if gates:
        forget = matplotlib.colormaps[GATE_MAP](explained.gates[explained.per_child_gate][child].mean(axis=1))
        ax.add_collection(LineCollection(edges, colors=forget, linewidths=2.6, zorder=1))
    else:
        ax.add_collection(LineCollection(edges, colors="0.55", linewidths=1.0, zorder=1))
    words = np.flatnonzero([token is not None for token in tree.tokens])
    raised = words[y[words] > 0]
    ax.vlines(x[raised], -0.6, y[raised], colors="0.8", linestyles=":", linewidths=0.8, zorder=0)
    ax.scatter(x, y, s=NODE**2, c=value, cmap=PREDICTION_MAP, vmin=0, vmax=1, edgecolors="0.3", linewidths=0.6,
               zorder=3)
    for j in range(tree.num_nodes):
        ax.text(x[j], y[j], symbols[int(p[j].argmax())], ha="center", va="center", fontsize=6.5, zorder=4,
                color="white" if abs(value[j] - 0.5) > 0.3 else "black")
    if gates:
        names = _node_gates(explained)
        for q, name in enumerate(names):
            shift = offset_copy(ax.transData, fig=ax.figure, x=(q - (len(names) - 1) / 2) * CELL,
                                y=-(NODE + CELL) / 2 - 0.5, units="points")
            ax.scatter(x, y, s=CELL**2, marker="s", c=explained.gates[name].mean(axis=1), cmap=GATE_MAP, vmin=0,
                       vmax=1, transform=shift, edgecolors="white", linewidths=0.3, zorder=3)
    ax.set_xticks(x[words], [tree.tokens[j] for j in words], rotation=45, ha="right", rotation_mode="anchor",
                  fontsize=9)
    for label, unknown in zip(ax.get_xticklabels(), explained.unknown[words]):
        if unknown:
            label.set(color="0.45", fontstyle="italic")
    ax.set_ylim(-0.6, y.max() + 0.6)
    ax.set_yticks([])
    ax.tick_params(axis="x", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
