"""SequencerCriterion: applies a criterion at every step, the original ``nn.SequencerCriterion``."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from .. import _seqio
from .._checks import user_errors
from .step_loss import check_batches, step_loss


class SequencerCriterion(nn.Module):
    """``loss = Σ_t criterion(input[t], target[t])`` (divided by ``T`` if ``size_average``).

    The wrapped criterion keeps its own reduction over the batch (``nn.NLLLoss`` averages
    over ``N``), so the default is a sum over time of per-step batch means, as in the original.

    Args:
        criterion: any loss module called as ``criterion(input_t, target_t)``.
        size_average: average over time instead of summing.

    Shape:
        ``input (T, N, *)`` or a list of ``T`` step inputs; ``target (T, N, …)`` or a list of
        ``T`` step targets → scalar.

    Example:
        >>> crit = SequencerCriterion(nn.NLLLoss())
        >>> log_probs = torch.randn(5, 4, 10).log_softmax(-1)
        >>> crit(log_probs, torch.randint(10, (5, 4))).shape
        torch.Size([])
    """

    def __init__(self, criterion: nn.Module, size_average: bool = False) -> None:
        super().__init__()
        if not callable(criterion):
            raise TypeError(
                f"SequencerCriterion: expected a criterion module, got {type(criterion).__name__}"
            )
        self.criterion = criterion
        self.size_average = bool(size_average)

    def forward(self, input: Any, target: Any) -> torch.Tensor:
        """The criterion summed over the ``T`` steps of ``input`` and ``target (T, N, …)`` (averaged
        over steps with ``size_average``)."""
        name = type(self).__name__
        inputs, _ = _seqio.split(name, input, what="input")
        if isinstance(target, torch.Tensor) and target.dim() >= 1:
            targets = list(target.unbind(0))
        else:
            targets, _ = _seqio.split(name, target, what="target")
        if len(inputs) != len(targets):
            raise ValueError(
                f"{name}: expected as many target steps as input steps, got {len(inputs)} input "
                f"steps and {len(targets)} target steps"
            )
        check_batches(name, inputs, targets)
        what = f"its criterion {type(self.criterion).__name__}"
        losses = []
        for t, (x, y) in enumerate(zip(inputs, targets)):
            with user_errors(name, f"{what} at step {t}", (x, y)):
                losses.append(step_loss(self.criterion, x, y))
        loss = cast(torch.Tensor, sum(losses))  # at least one step (checked above)
        return loss / len(inputs) if self.size_average else loss
