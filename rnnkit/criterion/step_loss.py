"""What every sequence criterion does at one step: check the batch sizes, score an empty batch as 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch

from .. import _nest
from .._checks import describe_value


def check_batches(name: str, inputs: list, targets: list) -> None:
    for t, (x, y) in enumerate(zip(inputs, targets)):
        nx, ny = _batch(x), _batch(y)
        if nx is not None and ny is not None and nx != ny:
            raise ValueError(
                f"{name}: expected the target of step {t} to have the input's batch size {nx}, "
                f"got {describe_value(y)} for input {describe_value(x)}"
            )


def _batch(value: Any) -> int | None:
    t = _nest.first_tensor(value)
    return t.size(0) if t is not None and t.dim() > 0 else None


def step_loss(criterion: Callable[[Any, Any], torch.Tensor], x: Any, y: Any) -> torch.Tensor:
    """``criterion(x, y)``; an empty batch gives an exact 0 on the graph (a mean over no rows is NaN)."""
    if _batch(x) == 0:
        return cast(torch.Tensor, sum(t.sum() for t in _nest.flatten(x) if t.is_floating_point()))
    return criterion(x, y)

    def extra_repr(self) -> str:
        return "size_average=True" if self.size_average else ""
