"""treelstm: Child-Sum, N-ary and chain LSTM cells over batched DGL graphs.

    >>> import torch, treelstm
    >>> from treelstm import trees
    >>> graph = trees.batch([trees.from_parents("2 0 2"), trees.from_ptb("(3 (2 It) (4 works))")])
    >>> cell = treelstm.ChildSumTreeLSTMCell(input_size=50, hidden_size=30)
    >>> out = treelstm.TreeLSTM(cell)(graph, torch.randn(graph.num_nodes(), 50))
    >>> out.h.shape
    torch.Size([6, 30])
"""

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

__version__ = "0.2.0"

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
]
