"""treelstm: Child-Sum, N-ary and chain LSTM cells over batched DGL graphs.

    >>> import torch, treelstm
    >>> from treelstm import trees
    >>> graph = trees.batch([trees.from_parents("2 0 2"), trees.from_ptb("(3 (2 It) (4 works))")])
    >>> cell = treelstm.ChildSumTreeLSTMCell(input_size=50, hidden_size=30)
    >>> out = treelstm.TreeLSTM(cell)(graph, torch.randn(graph.num_nodes(), 50))
    >>> out.h.shape
    torch.Size([6, 30])
"""

from typing import TYPE_CHECKING

from treelstm.nn.cells import (
    ChainLSTMCell,
    ChildSumTreeGRUCell,
    ChildSumTreeLSTMCell,
    NaryTreeLSTMCell,
    TreeCell,
    TreeCellProtocol,
)
from treelstm.nn.chain import ChainLSTM
from treelstm.nn.encoder import TreeLSTM, TreeLSTMOutput
from treelstm.trees.schedule import LevelSchedule

if TYPE_CHECKING:
    import os

    import torch

    from treelstm.runner.predict import Predictor

__version__ = "0.2.0"


def load(checkpoint: "str | os.PathLike", device: "str | torch.device | None" = None) -> "Predictor":
    """A trained checkpoint folder as a predictor of its task: ``predict(inputs)`` (texts or spaCy Docs ->
    entities or labels; text pairs -> labels or scores) and its ``labels``; ``device`` as for
    ``treelstm predict --device`` (default auto). The same as :func:`treelstm.runner.predict.load`.

        >>> tagger = treelstm.load("runs/conll2003-blstm-crf-charlstm/seed-1/checkpoint")  # doctest: +SKIP
        >>> tagger.predict(["U.N. official Ekeus heads for Baghdad."])[0]["entities"][0]  # doctest: +SKIP
        {'start': 0, 'end': 4, 'type': 'ORG', 'text': 'U.N.'}
    """
    from treelstm.runner.predict import load as load_predictor

    return load_predictor(checkpoint, device)


__all__ = [
    "ChainLSTM",
    "ChainLSTMCell",
    "ChildSumTreeGRUCell",
    "ChildSumTreeLSTMCell",
    "LevelSchedule",
    "NaryTreeLSTMCell",
    "TreeCell",
    "TreeCellProtocol",
    "TreeLSTM",
    "TreeLSTMOutput",
    "load",
]
