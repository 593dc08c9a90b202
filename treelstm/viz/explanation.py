"""Seeing inside a trained model: a sentence's tree with what the model computed at every node.

An :class:`Explanation` holds the trees of one input with every node's class probabilities (and
gates); :func:`explain_trees` computes them with a sentence encoder. Checkpoints are explained by
:func:`treelstm.runner.predict.explain` and drawn by :func:`treelstm.viz.drawing.draw`:

    >>> from treelstm.runner.predict import explain
    >>> from treelstm.viz.drawing import draw
    >>> result = explain("runs/sst-constituency-treelstm-fine/seed-1/checkpoint",  # doctest: +SKIP
    ...                  text="A gorgeous, witty, seductive movie.", gates=True)
    >>> result.label, result.trees[0].probabilities.shape  # doctest: +SKIP
    ('very_positive', (15, 5))
    >>> draw(result, "movie")  # movie.svg and movie.png  # doctest: +SKIP

What a node's probabilities are depends on the task (each task's ``explain_raw`` says):
classifiers (sentiment, say) classify every node's phrase; for a pair (paraphrase, entailment,
relatedness), a node of one text gets the head's prediction for its phrase against the whole other
text. See ``docs/explain.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from treelstm.errors import UserError
from treelstm.models.batch import TreeBatch
from treelstm.models.sentence import SentenceEncoder
from treelstm.text.embeddings import Vocabulary
from treelstm.trees import Tree

__all__ = ["ExplainedTree", "Explanation", "explain_trees"]


@dataclass(frozen=True, eq=False)
class ExplainedTree:
    """One tree as the model read it, with what the model computed at each of its ``n`` nodes.

    Attributes:
        tree: the tree (tokens, parents) in its own node order.
        probabilities: ``(n, C)``, each node's class probabilities (see the task).
        gates: ``{}`` unless asked for; else each gate's activations ``(n, H)``, as
            :class:`~treelstm.TreeLSTM` returns them: node gates (``i``, ``o`` and the candidate
            ``u``; a GRU's ``z``, ``h_hat``) and the per-child gate, whose row ``k`` is the gate
            node ``k``'s parent applied to its memory (zero at the root).
        per_child_gate: the name of the per-child gate (``f``, a GRU's ``r``).
        unknown: ``(n,)`` bool, nodes whose word is not in the model's vocabulary (they read ``<unk>``).
    """

    tree: Tree
    probabilities: np.ndarray
    gates: dict[str, np.ndarray]
    per_child_gate: str
    unknown: np.ndarray


@dataclass(frozen=True, eq=False)
class Explanation:
    """A model's prediction for one input, with its trees explained node by node.

    Attributes:
        task: the checkpoint's task name.
        classes: names of the ``C`` classes of the probabilities.
        symbols: a short symbol per class, drawn in the nodes.
        trees: one :class:`ExplainedTree` per sentence (two for a pair).
        probabilities: ``(C,)``, the prediction for the whole input.
        label: the predicted label.
        node_colour: what a node's colour shows, for the figure's caption.
    """

    task: str
    classes: tuple[str, ...]
    symbols: tuple[str, ...]
    trees: tuple[ExplainedTree, ...]
    probabilities: np.ndarray
    label: str
    node_colour: str


def explain_trees(
    encoder: SentenceEncoder,
    vocab: Vocabulary,
    trees: Sequence[Tree],
    node_probabilities: Callable[[Tensor, TreeBatch], Tensor],
    gates: bool,
) -> tuple[ExplainedTree, ...]:
    """Run ``encoder`` over ``trees`` (one batch, no gradients) and split what it computed per tree.

    Args:
        encoder: a tree encoder (chain LSTMs have no tree to explain).
        node_probabilities: ``(h, batch) -> (N, C)``: every node's class probabilities from its
            hidden state ``h`` ``(N, H)`` (``batch`` gives e.g. the roots).
        gates: also keep the gate activations.
    """
    if encoder.cell_name == "lstm":
        raise UserError("explain draws tree models; this checkpoint's model is a chain LSTM (model.cell: lstm)")
    batch = TreeBatch.of(trees, vocab)
    with torch.no_grad():
        h, _, *found = encoder(batch, return_gates=gates)
        probabilities = node_probabilities(h, batch).cpu().numpy()
    sizes = [tree.num_nodes for tree in trees]
    splits = np.cumsum(sizes)[:-1]
    split_gates = {name: np.split(value.cpu().numpy(), splits) for name, value in (found[0] if gates else {}).items()}
    return tuple(
        ExplainedTree(tree, p, {name: parts[k] for name, parts in split_gates.items()},
                      encoder.recurrent.cell.per_child_gate,
                      np.array([token is not None and token not in vocab for token in tree.tokens]))
        for k, (tree, p) in enumerate(zip(trees, np.split(probabilities, splits)))
    )
