"""Task heads: the relatedness similarity head and a node/sentence classifier."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treelstm.nn._checks import check_tensor

__all__ = ["SimilarityHead", "Classifier"]


class SimilarityHead(nn.Module):
    r"""The relatedness head of Tai et al. (2015), Section 4.2.

    .. math::
        h_\times = h_L \odot h_R, \quad h_+ = |h_L - h_R|, \quad
        h_s = \sigma(W^{(\times)} h_\times + W^{(+)} h_+ + b^{(h)}), \quad
        \hat p_\theta = \mathrm{softmax}(W^{(p)} h_s + b^{(p)}), \quad \hat y = r^T \hat p_\theta

    with :math:`r = [1, 2, \ldots, K]`.

    Outputs of ``forward(h_L, h_R)``: log-probabilities ``(B, K)``; :meth:`score` turns them into :math:`\hat y`.
    """

    r: Tensor

    def __init__(self, input_size: int, hidden_size: int = 50, num_classes: int = 5):
        super().__init__()
        self.W_times = nn.Linear(input_size, hidden_size, bias=False)
        self.W_plus = nn.Linear(input_size, hidden_size)  # its bias is b^(h)
        self.W_p = nn.Linear(hidden_size, num_classes)
        self.register_buffer("r", torch.arange(1, num_classes + 1, dtype=torch.float32), persistent=False)

    def forward(self, h_L: Tensor, h_R: Tensor) -> Tensor:
        check_tensor("SimilarityHead", "h_L", h_L, [("batch", None), ("input_size", self.W_plus.in_features)],
                     self.W_plus.weight)
        check_tensor("SimilarityHead", "h_R", h_R, [("batch", h_L.shape[0]), ("input_size", self.W_plus.in_features)],
                     self.W_plus.weight)
        h_s = torch.sigmoid(self.W_times(h_L * h_R) + self.W_plus((h_L - h_R).abs()))
        return F.log_softmax(self.W_p(h_s), dim=-1)

    def score(self, log_p: Tensor) -> Tensor:
        return log_p.exp() @ self.r


class Classifier(nn.Module):
    """Dropout, then a linear layer to class logits: ``(..., input_size) -> (..., num_classes)``."""

    def __init__(self, input_size: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout, self.linear = nn.Dropout(dropout), nn.Linear(input_size, num_classes)

    def forward(self, h: Tensor) -> Tensor:
        return self.linear(self.dropout(h))
