"""RepeaterCriterion: one target for every step, the original ``nn.RepeaterCriterion``."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from .. import _seqio
from .._checks import user_errors
from .step_loss import check_batches, step_loss


class RepeaterCriterion(nn.Module):
    """``loss = Σ_t criterion(input[t], target)``: the same target at every step.

    Shape:
        ``input (T, N, *)`` or a list of ``T`` step inputs; ``target (N, …)`` → scalar.

    Example:
        >>> crit = RepeaterCriterion(nn.NLLLoss())
        >>> log_probs = torch.randn(3, 4, 10).log_softmax(-1)
        >>> crit(log_probs, torch.randint(10, (4,))).shape
        torch.Size([])
    """

    def __init__(self, criterion: nn.Module) -> None:
        super().__init__()
        if not callable(criterion):
            raise TypeError(
                f"RepeaterCriterion: expected a criterion module, got {type(criterion).__name__}"
            )
        self.criterion = criterion

    def forward(self, input: Any, target: Any) -> torch.Tensor:
        """The sum over the ``T`` steps of ``input (T, N, *)`` of the criterion against ``target (N, …)``."""
        name = type(self).__name__
        inputs, _ = _seqio.split(name, input)
        check_batches(name, inputs, [target] * len(inputs))
        losses = []
        for t, x in enumerate(inputs):
            with user_errors(
                name, f"its criterion {type(self.criterion).__name__} at step {t}", (x, target)
            ):
                losses.append(step_loss(self.criterion, x, target))
        return cast(torch.Tensor, sum(losses))  # at least one step (checked above)
