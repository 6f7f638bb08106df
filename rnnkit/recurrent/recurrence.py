"""Recurrence: the general recurrence ``y[t] = module(x[t], y[t-1])``, the original ``nn.Recurrence``."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from .. import _nest
from .._checks import expect_positive_int, user_errors
from .._state import StateSpec, TensorSpec
from ..kernels.intercept import interceptable_linears, run_steps
from .abstract import AbstractRecurrent, SequenceKernel, recurrent_modules


def _is_shape(obj: Any) -> bool:
    return isinstance(obj, torch.Size) or (
        isinstance(obj, (tuple, list)) and all(isinstance(s, int) for s in obj)
    )


def _normalise_size(module: str, size: Any) -> Any:
    """An int, a ``torch.Size``, a tuple of ints (one shape) or a nested tuple of those."""
    if isinstance(size, int) and not isinstance(size, bool):
        return torch.Size([expect_positive_int(module, size, "output_size")])
    if _is_shape(size):
        return torch.Size(size)
    if isinstance(size, (tuple, list)) and size:
        return tuple(_normalise_size(module, s) for s in size)
    raise ValueError(
        f"{module}: expected output_size to be an int, a torch.Size, a tuple of ints or a "
        f"nested tuple of sizes, got {size!r}"
    )


class Recurrence(AbstractRecurrent):
    """Feeds a module its own previous output: ``y[t] = module(x[t], y[t-1])``, ``y[0] = 0``.

    ``module`` is called with two arguments, the step input and the previous output (a
    tensor or a nested tuple, as ``module`` returns). Anything can be built this way: a
    simple RNN, an LSTM whose output is ``(h, c)``, a recurrence nesting other step
    modules (they step in sync with it and are forgotten with it).

    Args:
        module: the step function, any ``nn.Module`` taking ``(x, y_prev)``.
        output_size: the size of one sample of ``y``: an int, a ``torch.Size``, a tuple of
            ints (one shape), or a nested tuple of sizes (``((H,), (H,))`` for ``(h, c)``).
        n_input_dim: number of non-batch dims of the first tensor of ``x`` (depth-first):
            ``x`` with one more dim is a batch, whose size sizes ``y[0]``; ``0`` for a batch
            of indices ``(N,)``.

    Shape:
        step input: ``(N, *)`` (or a nested tuple) → output shaped by ``output_size``
        with a leading ``N``.

    State:
        ``y[t-1]``.

    Example:
        >>> step = ParallelTable(nn.Embedding(10, 7), nn.Linear(7, 7),
        ...                      merge=nn.Sequential(CAddTable(), nn.Sigmoid()))
        >>> rnn = Recurrence(step, 7, 0)
        >>> rnn(torch.tensor([1, 2, 3])).shape
        torch.Size([3, 7])
    """

    def __init__(
        self, module: nn.Module, output_size: Any, n_input_dim: int, rho: int = 9999
    ) -> None:
        super().__init__(rho)
        name = type(self).__name__
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"{name}: expected module to be an nn.Module, got {type(module).__name__}"
            )
        if isinstance(n_input_dim, bool) or not isinstance(n_input_dim, int) or n_input_dim < 0:
            raise ValueError(f"{name}: expected n_input_dim to be an int >= 0, got {n_input_dim!r}")
        self.module = module
        self.output_size = _normalise_size(name, output_size)
        self.n_input_dim = n_input_dim

    def _batch_size(self, x: Any) -> int | None:
        t = _nest.first_tensor(x)
        if t is None:
            raise TypeError(f"{type(self).__name__}: expected the step input to contain a tensor")
        if t.dim() == self.n_input_dim + 1:
            return t.size(0)
        if t.dim() == self.n_input_dim:
            return None
        raise ValueError(
            f"{type(self).__name__}: with n_input_dim={self.n_input_dim} expected the first input "
            f"tensor to have {self.n_input_dim} dims (one sample) or {self.n_input_dim + 1} "
            f"(a batch), got shape {tuple(t.shape)}"
        )

    def check_input(self, x: Any) -> None:
        self._batch_size(x)

    def state_spec(self) -> StateSpec:
        def spec(size: Any, name: str) -> StateSpec:
            if isinstance(size, torch.Size):
                return TensorSpec(name, tuple(size), batched=False)
            return tuple(spec(s, f"{name}[{i}]") for i, s in enumerate(size))

        return spec(self.output_size, "y")

    def initial_state(self, x: Any) -> Any:
        t = cast(torch.Tensor, _nest.first_tensor(x))  # check_input found one
        ref = t if t.is_floating_point() else next(self.module.parameters(), None)
        dtype = ref.dtype if ref is not None else torch.get_default_dtype()
        device = t.device
        n = self._batch_size(x)
        lead = () if n is None else (n,)

        def zeros(size: Any) -> Any:
            if isinstance(size, torch.Size):
                return torch.zeros(*lead, *size, dtype=dtype, device=device)
            return tuple(zeros(s) for s in size)

        return zeros(self.output_size)

    def sequence_kernel(self) -> SequenceKernel | None:
        # Whole sequences gain from hoisting/deferring the module's nn.Linear maps
        # (rnnkit.kernels.intercept); stepping is kept where that cannot be exact: a nested
        # step module (it owns its own steps), trim_zero (it computes only the kept rows).
        if self.trim:
            return None
        if next(recurrent_modules(self.module), None) is not None:
            return None
        linears = interceptable_linears(self.module)
        if not linears:
            return None
        name = type(self).__name__
        return lambda x, y, valid: run_steps(name, self.recurrent_step, linears, x, y, valid)

    def recurrent_step(self, x: Any, y_prev: Any) -> tuple[Any, Any]:
        with user_errors(
            type(self).__name__, f"its module {type(self.module).__name__}", (x, y_prev)
        ):
            y = self.module(x, y_prev)
        return y, y

    def extra_repr(self) -> str:
        parts = [f"output_size={tuple(self.output_size)}", f"n_input_dim={self.n_input_dim}"]
        return ", ".join(p for p in parts + [super().extra_repr()] if p)
