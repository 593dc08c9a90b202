r"""CRF: a linear-chain conditional random field for sequence labelling (Lample et al., 2016; Ma & Hovy, 2016).

A BiLSTM-CRF tagger scores each tag at each token (the emissions :math:`P`, ``(L, T)`` for a sentence
of length :math:`L` over :math:`T` tags) and lets the CRF score the tag sequence as a whole. With the
transition scores :math:`A` (:math:`A_{ij}`: tag :math:`j` follows tag :math:`i`) and the start and end
scores :math:`a^{\mathrm{start}}`, :math:`a^{\mathrm{end}}`, the score of tags :math:`y = y_1 \ldots y_n` is

.. math::
    s(x, y) = a^{\mathrm{start}}_{y_1} + \sum_{t=1}^{n} P_{t, y_t} + \sum_{t=2}^{n} A_{y_{t-1}, y_t}
    + a^{\mathrm{end}}_{y_n}

and its log-probability is

.. math::
    \log p(y \mid x) = s(x, y) - \log Z(x), \qquad \log Z(x) = \log \sum_{y'} \exp s(x, y').

The forward algorithm computes :math:`\log Z` in :math:`O(n T^2)`:

.. math::
    \alpha_1(j) = a^{\mathrm{start}}_j + P_{1, j}, \quad
    \alpha_t(j) = P_{t, j} + \log \sum_i \exp(\alpha_{t-1}(i) + A_{ij}), \quad
    \log Z = \log \sum_j \exp(\alpha_n(j) + a^{\mathrm{end}}_j),

and Viterbi decoding is the same recursion with :math:`\max` for :math:`\log \sum \exp`, plus backpointers.

Hard constraints (e.g. in the IOBES scheme, ``I-PER`` may not follow ``O``) add a large negative score,
:math:`-10000`, to each disallowed transition, start and end tag, both in the likelihood and in decoding.
It is finite, unlike :math:`-\infty`, so that the gradients stay finite.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treelstm.nn._checks import check_tensor

__all__ = ["CRF"]

PENALTY = -10000.0  # added to the score of a disallowed transition, start or end tag


class CRF(nn.Module):
    r"""Linear-chain CRF over a batch of padded tag sequences (see the module docstring for the math).

    Args:
        num_tags: number of tags :math:`T`.
        allowed: ``(T, T)`` bool, ``allowed[i, j]``: tag ``j`` may follow tag ``i``. Default: all allowed.
        allowed_start: ``(T,)`` bool, the tags a sequence may start with. Default: all.
        allowed_end: ``(T,)`` bool, the tags a sequence may end with. Default: all.
        validate: check the values of ``mask`` (a prefix mask, every sequence at least one token) and
            ``tags`` (in ``[0, T)``) at every call. These checks read data, so on a GPU they are host
            syncs (a few per call, never per step); ``False`` skips them (an attribute, so it can be
            switched): wrong values then give wrong numbers or an indexing error instead of a message.
            The shapes, dtypes and devices are always checked (metadata only).

    Attributes:
        transitions: ``(T, T)`` :math:`A`, ``transitions[i, j]`` the score of tag ``j`` following tag ``i``.
        start_transitions: ``(T,)`` :math:`a^{\mathrm{start}}`, the score of starting with each tag.
        end_transitions: ``(T,)`` :math:`a^{\mathrm{end}}`, the score of ending with each tag.

    Inputs:
        emissions: ``(B, L, T)`` float, the score :math:`P_{t, j}` of tag ``j`` at token ``t`` of each sequence.
        tags: ``(B, L)`` long, tags in ``[0, T)``; those at padding positions are ignored.
        mask: ``(B, L)`` bool, ``True`` at each sequence's tokens, then ``False`` for the padding.
            Every sequence has at least one token; lengths may differ.

    Outputs:
        ``forward``: ``(B,)`` the log-likelihood :math:`\log p(y \mid x)` of each sequence's tags.
        ``score``: ``(B,)`` the unnormalised score :math:`s(x, y)`.
        ``log_partition``: ``(B,)`` :math:`\log Z(x)`.
        ``decode``: ``path, score``: ``(B, L)`` long, the best tags (0 at padding positions), and
        ``(B,)`` their score :math:`s(x, y)`.

    Example:
        >>> import torch
        >>> from treelstm.nn.crf import CRF
        >>> crf = CRF(num_tags=5)
        >>> emissions = torch.randn(2, 4, 5)  # e.g. a BiLSTM's states through a linear layer
        >>> tags = torch.tensor([[0, 1, 2, 3], [4, 0, 0, 0]])
        >>> mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
        >>> log_likelihood = crf(emissions, tags, mask)
        >>> log_likelihood.shape
        torch.Size([2])
        >>> (-log_likelihood.mean()).backward()
        >>> path, score = crf.decode(emissions, mask)
        >>> path.shape, score.shape
        (torch.Size([2, 4]), torch.Size([2]))
        >>> path[1, 2:].tolist()  # padding
        [0, 0]
    """

    allowed: Tensor
    allowed_start: Tensor
    allowed_end: Tensor

    def __init__(
        self,
        num_tags: int,
        allowed: Tensor | None = None,
        allowed_start: Tensor | None = None,
        allowed_end: Tensor | None = None,
        *,
        validate: bool = True,
    ):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"CRF: num_tags must be at least 1, got {num_tags}")
        self.num_tags, self.validate = num_tags, validate
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        for name, given, shape in [
            ("allowed", allowed, (num_tags, num_tags)),
            ("allowed_start", allowed_start, (num_tags,)),
            ("allowed_end", allowed_end, (num_tags,)),
        ]:
            if given is None:
                given = torch.ones(shape, dtype=torch.bool)
            elif given.dtype != torch.bool or given.shape != shape:
                raise ValueError(
                    f"CRF: {name} must be a bool tensor of shape {shape}, got {given.dtype} {tuple(given.shape)}"
                )
            self.register_buffer(name, given, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for parameter in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(parameter, -0.1, 0.1)

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        self._check(emissions, mask, tags)
        start, transitions, end = self._constrained()
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, L)
        moved = transitions[tags[:, :-1], tags[:, 1:]]  # (B, L - 1), the step into token t + 1
        last = tags.gather(1, mask.sum(1, keepdim=True) - 1).squeeze(1)
        return (
            start[tags[:, 0]]
            + torch.where(mask, emitted, 0.0).sum(1)
            + torch.where(mask[:, 1:], moved, 0.0).sum(1)
            + end[last]
        )

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        self._check(emissions, mask)
        start, transitions, end = self._constrained()
        alpha = start + emissions[:, 0]  # (B, T)
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)  # ended sequences keep their alpha
        return torch.logsumexp(alpha + end, dim=1)

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        self._check(emissions, mask)
        start, transitions, end = self._constrained()
        best = start + emissions[:, 0]  # (B, T) the best score of a path ending in each tag
        backpointers = []  # at step t: (B, T) the best previous tag for each tag at token t
        for t in range(1, emissions.shape[1]):
            step, previous = (best.unsqueeze(2) + transitions).max(dim=1)
            best = torch.where(mask[:, t, None], step + emissions[:, t], best)
            backpointers.append(previous)
        score, tag = (best + end).max(dim=1)
        path = [tag]  # backwards; past a sequence's end, its tag stays its last token's tag
        for t in range(emissions.shape[1] - 1, 0, -1):
            previous = backpointers[t - 1].gather(1, tag.unsqueeze(1)).squeeze(1)
            tag = torch.where(mask[:, t], previous, tag)
            path.append(tag)
        return torch.stack(path[::-1], dim=1).masked_fill(~mask, 0), score

    def _constrained(self) -> tuple[Tensor, Tensor, Tensor]:
        """The start, transition and end scores, with the penalty added where not allowed."""
        return (
            torch.where(self.allowed_start, self.start_transitions, self.start_transitions + PENALTY),
            torch.where(self.allowed, self.transitions, self.transitions + PENALTY),
            torch.where(self.allowed_end, self.end_transitions, self.end_transitions + PENALTY),
        )

    def _check(self, emissions: Tensor, mask: Tensor, tags: Tensor | None = None) -> None:
        check_tensor("CRF", "emissions", emissions, [("batch", None), ("length", None), ("num_tags", self.num_tags)],
                     self.transitions)
        shape = tuple(emissions.shape[:2])
        check_tensor("CRF", "mask", mask, [("batch", shape[0]), ("length", shape[1])], emissions, dtype=torch.bool)
        if tags is not None:
            check_tensor("CRF", "tags", tags, [("batch", shape[0]), ("length", shape[1])], emissions, dtype=torch.long)
        if shape[1] == 0:
            raise ValueError("CRF: every sequence must have at least one token: mask[:, 0] must be all True")
        if not self.validate:
            return
        # The CRF's written-down host syncs: the value checks below read mask (``.all()``, ``.any()`` in an
        # ``if``) and tags (``.item()`` of min and max): two per call of score, log_partition or decode, four
        # with tags (so six per forward), never per step. ``validate=False`` skips them.
        if not mask[:, 0].all():
            raise ValueError("CRF: every sequence must have at least one token: mask[:, 0] must be all True")
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            raise ValueError("CRF: mask must be a prefix mask: True for each sequence's tokens, then False")
        if tags is None:
            return
        low, high = tags.min().item(), tags.max().item()
        if low < 0 or high >= self.num_tags:
            raise ValueError(f"CRF: tags must be in [0, num_tags={self.num_tags}), got values in [{low}, {high}]")

    def extra_repr(self) -> str:
        """``num_tags=T``, and how many transitions, start and end tags the constraints disallow."""
        counts = {name: int((~getattr(self, name)).sum()) for name in ("allowed", "allowed_start", "allowed_end")}
        if not any(counts.values()):
            return f"num_tags={self.num_tags}"
        return (
            f"num_tags={self.num_tags}, disallowed: {counts['allowed']} transitions, "
            f"{counts['allowed_start']} start and {counts['allowed_end']} end tags"
        )
