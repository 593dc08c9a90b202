"""How much of the gradient at the end of a sentence reaches its first token.

For each sentence, a random unit vector :math:`u` (one per sentence, seeded) is sent back from
the state the classifier reads, :math:`h_T` (``(B, H)``), and we measure what arrives at the first
token's input embedding :math:`x_1`:

.. math::
    g = \\left\\| u^\\top \\frac{\\partial h_T}{\\partial x_1} \\right\\|_2

This is the gradient any loss on :math:`h_T` sends to :math:`x_1`, up to the loss's own factor
:math:`\\partial L / \\partial h_T`; leaving that factor out keeps a trained model's confidence (a
near-zero loss gradient on sentences it gets right) from masquerading as a vanished gradient.
Averaged over sentences, :math:`E[g^2] = \\|\\partial h_T / \\partial x_1\\|_F^2 / H`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ["first_token_gradient"]


def first_token_gradient(
    encode: Callable[[Tensor], Tensor], x: Tensor, first: Tensor, generator: torch.Generator
) -> Tensor:
    """Per sentence, the norm of the gradient reaching its first token's input.

    Args:
        encode: ``x -> h_T``, ``(N, E) -> (B, H)``: the encoder, with the batch bound.
        x: ``(N, E)`` the tokens' input embeddings (not modified; a leaf copy is differentiated).
        first: ``(B,)`` row of each sentence's first token in ``x``.
        generator: draws the unit vectors ``u`` (``(B, H)``).

    Returns:
        ``(B,)`` :math:`\\| u_b^\\top \\partial h_{T,b} / \\partial x_{1,b} \\|_2`.

    Example:
        >>> x = torch.ones(3, 2)
        >>> g = first_token_gradient(lambda x: 3 * x[[0]], x, torch.tensor([0]), torch.Generator().manual_seed(0))
        >>> torch.allclose(g, torch.tensor([3.0]))  # h_T = 3 x_1: every unit u comes back 3 times longer
        True
    """
    x = x.detach().requires_grad_(True)
    h = encode(x)
    u = torch.randn(h.shape, generator=generator, dtype=h.dtype)
    u = u / u.norm(dim=1, keepdim=True)
    (grad,) = torch.autograd.grad(h, x, grad_outputs=u.to(h.device), allow_unused=True)
    if grad is None:  # h_T does not depend on x at all
        return x.new_zeros(len(first))
    return grad.index_select(0, first).norm(dim=1)
