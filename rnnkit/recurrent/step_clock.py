"""Where a step module is in its sequence: the step counter, the clock read by ``rho``
truncation at backward time, and the truncation gate itself (see
:mod:`rnnkit.recurrent.abstract` for how ``rho`` is applied)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import _nest


class _Clock:
    """Counts the steps forwarded since the last ``forget()``; read by the gates at backward.

    ``backward_seen`` is set when a backward pass has gone through this sequence's gates: the
    graph of the steps so far may then be freed, so the next step starts a new graph (a module
    stepped by hand and trained chunk by chunk, as in the original's tests).
    """

    __slots__ = ("count", "backward_seen")

    def __init__(self) -> None:
        self.count = 0
        self.backward_seen = False


class _TruncationGate(torch.autograd.Function):
    """Identity whose backward is cut once the step falls more than ``rho`` steps behind."""

    @staticmethod
    def forward(ctx: Any, clock: _Clock, step: int, rho: int, *tensors: torch.Tensor) -> tuple:
        ctx.clock, ctx.step, ctx.rho = clock, step, rho
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple:
        ctx.clock.backward_seen = True
        if ctx.step > ctx.clock.count - ctx.rho:
            return (None, None, None, *grads)
        return (None, None, None) + (None,) * len(grads)


class _Steps:
    """Where a step module is in its current sequence (a plain object: cheap to update per step).

    ``cache`` holds per-sequence values (variational dropout masks); it is emptied at every
    call boundary, and copies and pickles keep it (a copy continues the same sequence).
    """

    __slots__ = ("step", "clock", "window_end", "cache")

    def __init__(self) -> None:
        self.step = 1
        self.clock = _Clock()
        self.window_end: int | None = None
        self.cache: dict = {}

    def __getstate__(self) -> dict:
        cache = {k: _nest.detach(v) for k, v in self.cache.items()}
        return {"step": self.step, "count": self.clock.count, "cache": cache}

    def __setstate__(self, state: dict) -> None:
        _Steps.__init__(self)
        self.step, self.clock.count, self.cache = state["step"], state["count"], state["cache"]

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Move the cached per-sequence tensors with the module (``.to()``, ``.double()``)."""
        self.cache = {k: _nest.map_tensors(fn, v) for k, v in self.cache.items()}
