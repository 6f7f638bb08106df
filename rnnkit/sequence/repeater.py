"""Repeater: feeds the same input to a step module ``n_step`` times, the original ``nn.Repeater``.

Used for recurrent convolutional models (Liang & Hu 2015) and any model that refines an
output by iterating on a fixed input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import _seqio
from .._checks import expect_positive_int, named_errors
from ..recurrent.module_tree import sequence_window
from .abstract import AbstractSequencer, refuse_remember
from .sequencer import as_step_module


class Repeater(AbstractSequencer):
    """Forgets, then applies ``module`` to the same input ``n_step`` times.

    Args:
        module: a step module, or any module (wrapped in a ``Recursor``).
        n_step: number of steps.

    ``get_state()`` is the state of the step modules inside after the last call;
    ``set_state(state)`` starts the next call from ``state`` instead of zeros.

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

    def remember(self, mode: str = "both") -> Repeater:
        refuse_remember(self, mode, "every call starts from zero state (or from set_state)")
        return super().remember(mode)

    def forward(self, input: Any) -> Any:
        """The module applied ``n_step`` times to ``input (N, *)``: ``(n_step, N, *)``."""
        self.begin_call()
        with sequence_window(self.module, self.n_step), named_errors(type(self).__name__):
            if isinstance(input, torch.Tensor) and input.dim() > 0:
                repeated = input.unsqueeze(0).expand(self.n_step, *input.shape)
                chunks = self.module.run_sequence(repeated)
                if chunks is not None:  # the module's sequence kernel ran every step
                    return _seqio.from_sequence(chunks, as_tensor=True)
            outputs = [self.module(input) for _ in range(self.n_step)]
        return _seqio.join(outputs, as_tensor=True)

    def extra_repr(self) -> str:
        return f"n_step={self.n_step}"
