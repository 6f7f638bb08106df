"""MaskZeroCriterion: a criterion that ignores padded rows, the original ``nn.MaskZeroCriterion``."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from .. import _nest
from .._checks import user_errors
from ..masking.zero_mask import check_n_input_dim, select_rows, zero_rows


class MaskZeroCriterion(nn.Module):
    """``loss = criterion(input[keep], target[keep])`` where ``keep`` are the rows whose input is not all zeros.

    Averaging criteria therefore average over the real rows only. Masked rows get zero
    gradient; a batch that is entirely padding gives a loss of exactly 0 (not NaN) with
    zero gradients. Wrap it in ``SequencerCriterion`` for sequences; the layers before it
    must keep padded rows at zero (``MaskZero(nn.Linear(...), 1)``, ``MaskZero(nn.LogSoftmax(-1), 1)``).

    Shape:
        ``input (N, *)`` (or a nested tuple whose first tensor is), ``target (N, …)`` → scalar.

    Example:
        >>> crit = MaskZeroCriterion(nn.NLLLoss(), 1)
        >>> log_probs = torch.tensor([[-0.1, -2.4], [0.0, 0.0]])  # second row is padding
        >>> crit(log_probs, torch.tensor([0, 1]))
        tensor(0.1000)
    """

    def __init__(self, criterion: nn.Module, n_input_dim: int) -> None:
        super().__init__()
        if not callable(criterion):
            raise TypeError(
                f"MaskZeroCriterion: expected a criterion module, got {type(criterion).__name__}"
            )
        self.criterion = criterion
        self.n_input_dim = check_n_input_dim(type(self).__name__, n_input_dim)

    def forward(self, input: Any, target: Any) -> torch.Tensor:
        """The criterion over the rows of ``input (N, *)`` that are not all zero (a scalar)."""
        name = type(self).__name__
        mask = zero_rows(name, input, self.n_input_dim)
        for t in _nest.flatten(target):
            if t.dim() == 0 or t.size(0) != mask.size(0):
                raise ValueError(
                    f"{name}: expected a target with the input's batch size {mask.size(0)} "
                    f"(N, …), got shape {tuple(t.shape)}"
                )
        what = f"its criterion {type(self.criterion).__name__}"
        if not bool(mask.any()) and mask.numel():
            with user_errors(name, what, (input, target)):
                return self.criterion(input, target)
        if bool(mask.all()):  # all padding, or no rows at all
            # An empty selection sums to an exact 0 that keeps the graph, so backward() works
            # and gives zero gradients (multiplying by 0 would turn an inf into NaN).
            return cast(
                torch.Tensor, sum(t[:0].sum() for t in _nest.flatten(input) if t.is_floating_point())
            )
        keep = (~mask).nonzero().squeeze(1)
        with user_errors(name, what, (input, target)):
            return self.criterion(select_rows(input, keep), select_rows(target, keep))

    def extra_repr(self) -> str:
        return f"n_input_dim={self.n_input_dim}"
