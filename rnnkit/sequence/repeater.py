"""Repeater: feeds the same input to a step module ``n_step`` times, the original ``nn.Repeater``.

Used for recurrent convolutional models (Liang & Hu 2015) and any model that refines an
output by iterating on a fixed input.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .. import _seqio
from .._checks import expect_positive_int
from ..recurrent.abstract import recurrent_modules, sequence_window
from .sequencer import as_step_module


class Repeater(nn.Module):
    """Forgets, then applies ``module`` to the same input ``n_step`` times.

    Args:
        module: a step module, or any module (wrapped in a ``Recursor``).
        n_step: number of steps.

    Shape:
        input ``(N, *)`` → ``(n_step, N, *)`` tensor (a list if the step outputs are tuples).
        The gradient w.r.t. the input is the sum over steps.

    Example:
        >>> rep = Repeater(FastLSTM(10, 10), 3)
        >>> rep(torch.randn(4, 10)).shape
        torch.Size([3, 4, 10])
    """

    def __init__(self, module: nn.Module, n_step: int) -> None:
        super().__init__()
        self.module = as_step_module(module, type(self).__name__)
        self.n_step = expect_positive_int("Repeater", n_step, "n_step")

    def forget(self) -> None:
        for m in recurrent_modules(self):
            m._reset()

    def forward(self, input: Any) -> Any:
        for m in recurrent_modules(self):
            m._reset(keep_user_state=True)
        with sequence_window(self.module, self.n_step):
            outputs = [self.module(input) for _ in range(self.n_step)]
        return _seqio.join(outputs, as_tensor=True)

    def extra_repr(self) -> str:
        return f"n_step={self.n_step}"
