"""Trees as plain data and as DGL graphs: builders, validation and batching.

The package's modules: :mod:`~treelstm.trees.tree` (the type), :mod:`~treelstm.trees.notations`
(builders), :mod:`~treelstm.trees.binarize`, :mod:`~treelstm.trees.batching` (DGL graphs) and
:mod:`~treelstm.trees.schedule` (the level schedule of a batched graph); their public names are here.

A tree is kept as plain data (:class:`Tree`: a parent array, child slots, tokens, labels)
so that datasets stay serialisable; it becomes a DGLGraph with edges child -> parent on
request (:attr:`Tree.graph`) or, for many trees at once, with :func:`batch`.

Node order (the row order of every per-node tensor):

* :func:`from_parents` -- node ``i`` is position ``i + 1`` of the parent line (token ``i``
  of a dependency tree; the first ``n`` nodes are the leaves of a ``.cparents`` line);
* :func:`from_ptb` -- the ``n`` leaves first, left to right (node ``i`` is token ``i``),
  then the internal nodes in post-order, so the root is the last node;
* :func:`from_spacy` -- node ``i`` is token ``i`` of the span;
* :func:`chain` -- node ``t`` is token ``t``.

Every builder validates its input and raises :class:`ValueError` naming what is wrong and
where (a 1-based position of the parent line, a token index, or a character offset).

Child slots: ``slot[k]`` is node ``k``'s position among its parent's children, used by the
N-ary cell (``U_l`` for child position ``l``). Children are ranked left to right by the
smallest node index in their subtree, which for the orders above is sentence order. The
graphs number their edges in (parent, slot) order, so DGL message passing delivers every
node's children in slot order.
"""

from treelstm.trees.batching import batch, chains
from treelstm.trees.binarize import binarize
from treelstm.trees.notations import chain, from_parents, from_ptb, from_spacy
from treelstm.trees.tree import Tree, subtree_reduce, token_spans

__all__ = ["Tree", "from_parents", "from_ptb", "from_spacy", "binarize", "chain", "chains", "batch", "token_spans",
           "subtree_reduce"]
