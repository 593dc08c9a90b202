"""Demonstrations on data the library generates itself (no downloads).

* :mod:`treelstm.demo.agreement` -- subject-verb agreement sentences with ``d`` words between
  the subject and its verb, each with a dependency tree.
* :mod:`treelstm.demo.models` -- a tanh RNN, the chain LSTM, a chain GRU and the Child-Sum
  Tree-LSTM behind one interface.
* :mod:`treelstm.demo.gradients` -- the gradient that reaches the first token.
* :mod:`treelstm.demo.long_dependency` -- ``treelstm demo long-dependency``: train, measure, plot.
"""
