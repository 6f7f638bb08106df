"""Recurrent: the original package's first RNN, ``nn.Recurrent`` (Element-Research/rnn).

``h[1] = transfer(start(input(x[1])))``; ``h[t] = transfer(merge(input(x[t]), feedback(h[t-1])))``.
Used by the Recurrent Attention Model (Mnih et al. 2014) as its core network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._checks import (
    describe_shape,
    expect_floating,
    expect_like,
    expect_positive_int,
    expect_tensor,
    user_errors,
)
from .._state import StateSpec, TensorSpec
from ..kernels.intercept import interceptable_linears, run_steps
from ..tables import CAddTable
from .abstract import AbstractRecurrent, SequenceKernel, recurrent_modules


class Bias(nn.Module):
    """A learned additive bias of a given shape (the original's ``nn.Add(size)``)."""

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        shape = torch.Size([size]) if isinstance(size, int) else torch.Size(size)
        self.bias = nn.Parameter(torch.zeros(shape, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the bias from ``U(-1/√n, 1/√n)``, ``n`` its number of elements."""
        bound = 1.0 / max(self.bias.numel(), 1) ** 0.5
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + bias`` (``x (N, *size)``)."""
        name = type(self).__name__
        expect_tensor(name, x)
        expect_floating(name, x)
        expect_like(name, x, self.bias)
        shape = tuple(self.bias.shape)
        if x.dim() < len(shape) or tuple(x.shape[x.dim() - len(shape) :]) != shape:
            raise ValueError(
                f"{name}: expected input of shape (*, {', '.join(map(str, shape))}), got "
                f"{describe_shape(tuple(x.shape))}"
            )
        return x + self.bias


def _as_module(module: str, obj: Any, name: str) -> nn.Module:
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        return obj()
    raise TypeError(f"{module}: expected {name} to be an nn.Module or its class, got {obj!r}")


class Recurrent(AbstractRecurrent):
    """Simple RNN from modules: a start module for step 1, then ``input`` merged with ``feedback``.

    Args:
        start: the hidden size (an int or a shape: a learned bias of that shape, :class:`Bias`)
            or a module applied to ``input(x[1])`` at the first step.
        input: module applied to every step input.
        feedback: module applied to the previous hidden state.
        transfer: non-linearity (module or module class), ``nn.Sigmoid`` by default.
        merge: module called as ``merge(input_out, feedback_out)``; addition by default.

    Shape:
        step input: what ``input`` takes → ``h`` of ``start``'s size, with a leading ``N``.

    State:
        ``h[t-1]`` (``None`` before the first step, which uses ``start``).

    Example:
        >>> rnn = Recurrent(7, nn.Embedding(10, 7), nn.Linear(7, 7), nn.Sigmoid)
        >>> rnn(torch.tensor([1, 2])).shape
        torch.Size([2, 7])
    """

    def __init__(
        self,
        start: Any,
        input: nn.Module,
        feedback: nn.Module,
        transfer: Any = nn.Sigmoid,
        rho: int = 99999,
        merge: nn.Module | None = None,
    ) -> None:
        super().__init__(rho)
        name = type(self).__name__
        if isinstance(start, int) and not isinstance(start, bool):
            start = Bias(expect_positive_int(name, start, "start"))
        elif isinstance(start, (tuple, list, torch.Size)):
            start = Bias(start)
        self.start = _as_module(name, start, "start")
        self.input = _as_module(name, input, "input")
        self.feedback = _as_module(name, feedback, "feedback")
        self.transfer = _as_module(name, transfer, "transfer")
        self.merge = CAddTable() if merge is None else _as_module(name, merge, "merge")

    def _check_maskable(self, trim: bool) -> None:
        # A reset row would have to restart through ``start``, not from a zero state.
        raise ValueError(
            "Recurrent: mask_zero/trim_zero are not supported, because its first step uses "
            "the start module; build the same RNN with Recurrence to mask it"
        )

    def state_spec(self) -> StateSpec:
        # With a learned start bias the state has its shape; a start module can give any.
        if isinstance(self.start, Bias):
            return TensorSpec("h", tuple(self.start.bias.shape))
        return None

    def sequence_kernel(self) -> SequenceKernel | None:
        # The linear case, Recurrent(start, nn.Linear, nn.Linear, transfer): input(x[t]) for
        # all steps is one product, feedback(h) deferred (rnnkit.kernels.intercept); the
        # steps themselves are recurrent_step's, so the first still goes through ``start``.
        linears = interceptable_linears(self)
        if len(list(recurrent_modules(self))) > 1 or not (
            self.input in linears and self.feedback in linears and type(self.merge) is CAddTable
        ):
            return None
        name = type(self).__name__
        return lambda x, h, valid: run_steps(name, self.recurrent_step, linears, x, h, valid)

    def recurrent_step(self, x: Any, h_prev: Any) -> tuple[Any, Any]:
        with user_errors(type(self).__name__, "its modules", (x, h_prev)):
            if h_prev is None:
                h = self.transfer(self.start(self.input(x)))
            else:
                h = self.transfer(self.merge(self.input(x), self.feedback(h_prev)))
        return h, h
