"""Any step function over a whole sequence, its ``nn.Linear`` maps hoisted or deferred.

During one call of :func:`run_steps`, every *interceptable* ``nn.Linear`` inside the step
module (exactly that class, no hooks of its own, no global module hooks, no ``forward``
already replaced on the instance) answers its calls through :mod:`rnnkit.kernels.deferred`:

- a call on the step input itself (the very tensor ``x[t]`` the step was given, not modified
  in place since: same object, same ``_version``) is *hoisted*: at its first such call the
  map is computed for all ``T`` steps in one product, and every step takes its slice;
- any other call (on the recurrent state, on something computed from ``x[t]``, on ``x[t]``
  after an in-place change) is *deferred*: one product against a contiguous ``Wᵀ``, the
  weight gradient of all steps one product at the end of backward.

Nothing else changes: the step function runs once per step, in order, with autograd for
everything that is not an ``nn.Linear`` (dropout draws the same numbers as stepping). The
instance's ``forward`` is replaced only for the duration of the call and restored after,
even on an error. Without gradients the steps run in chunks, so the hoisted products take
a chunk's memory, not the whole sequence's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeGuard

import torch
from torch import Tensor, nn
from torch.nn.modules import module as _module

from .. import _nest
from .autocast import autocast_dtype
from .deferred import DeferredLinear, HoistedLinear

# Steps per chunk when nothing needs gradients (bounds the hoisted products' memory).
INFERENCE_CHUNK = 64


def _global_hooks() -> bool:
    names = (
        "_global_forward_hooks",
        "_global_forward_pre_hooks",
        "_global_backward_hooks",
        "_global_backward_pre_hooks",
    )
    return any(getattr(_module, n, None) for n in names)


def _interceptable(m: nn.Module) -> TypeGuard[nn.Linear]:
    return (
        type(m) is nn.Linear
        and not (m._forward_hooks or m._forward_pre_hooks)
        and not (m._backward_hooks or getattr(m, "_backward_pre_hooks", None))
        and "forward" not in m.__dict__
    )


def interceptable_linears(module: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` maps in ``module`` that :func:`run_steps` hoists or defers."""
    if _global_hooks():
        return []
    return [m for m in module.modules() if _interceptable(m)]


class _Interception:
    """The hoisted and deferred maps of one chunk of steps, made at their first use."""

    def __init__(self, x: Tensor) -> None:
        self.x = x
        self.grad = torch.is_grad_enabled()  # a map made inside a cell's no_grad still records
        self.x_t: Tensor | None = None
        self.version = -1
        self.t = 0
        self.hoisted: dict[nn.Linear, HoistedLinear] = {}
        self.deferred: dict[nn.Linear, DeferredLinear] = {}

    def step_input(self, t: int) -> Tensor:
        self.t, self.x_t = t, self.x[t]
        self.version = self.x_t._version
        return self.x_t

    def call(self, linear: nn.Linear, inp: Tensor) -> Tensor:
        if inp is self.x_t and inp._version == self.version:
            hoisted = self.hoisted.get(linear)
            if hoisted is None:
                with torch.set_grad_enabled(self.grad):
                    hoisted = HoistedLinear(self.x, linear.weight, linear.bias)
                self.hoisted[linear] = hoisted
            return hoisted[self.t]
        deferred = self.deferred.get(linear)
        if deferred is None:
            with torch.set_grad_enabled(self.grad):
                deferred = DeferredLinear(linear.weight, linear.bias, steps=self.x.size(0))
            self.deferred[linear] = deferred
        return deferred(inp)


def _forward(ic: _Interception, linear: nn.Linear) -> Callable[[Tensor], Tensor]:
    def forward(input: Tensor) -> Tensor:  # Linear.forward's signature, keyword included
        return ic.call(linear, input)

    return forward


@contextlib.contextmanager
def _intercepted(linears: list[nn.Linear], x: Tensor) -> Iterator[_Interception]:
    ic = _Interception(x)
    try:
        for m in linears:
            # An instance attribute shadows Linear.forward for this call only.
            m.__dict__["forward"] = _forward(ic, m)
        yield ic
    finally:
        for m in linears:
            m.__dict__.pop("forward", None)


def zero_rows(obj: Any, pad: Tensor) -> Any:
    """Every tensor of ``obj`` with the rows where ``pad (N,)`` is true set to zero, as
    ``mask_zero`` does on the step path (``masked_fill``; one result per distinct tensor, so
    an output that is also the state stays one tensor)."""
    done: dict[int, Tensor] = {}

    def fill(t: Tensor) -> Tensor:
        if id(t) not in done:
            done[id(t)] = t.masked_fill(pad.view(-1, *([1] * (t.dim() - 1))), 0)
        return done[id(t)]

    return _nest.map_tensors(fill, obj)


def chunked(kernel: Callable, x: Tensor, state: Any, valid: Tensor | None) -> tuple[Tensor, Any]:
    """``kernel(x, state, valid)``, in ``INFERENCE_CHUNK``-step pieces when no gradient is
    wanted, so that the products hoisted over time take a chunk's memory, not the sequence's."""
    T = x.size(0)
    if torch.is_grad_enabled() or T <= INFERENCE_CHUNK:
        return kernel(x, state, valid)
    outputs = []
    for t in range(0, T, INFERENCE_CHUNK):
        part = None if valid is None else valid[t : t + INFERENCE_CHUNK]
        out, state = kernel(x[t : t + INFERENCE_CHUNK], state, part)
        outputs.append(out)
    return _nest.cat(outputs), state


# A graph break under torch.compile, as the other kernels: tracing would unroll every step
# (and see Linear.forward replaced on the instance).
@torch.compiler.disable
def run_steps(
    owner: str,
    step: Callable[[Tensor, Any], tuple[Any, Any]],
    linears: list[nn.Linear],
    x: Tensor,
    state: Any,
    valid: Tensor | None,
) -> tuple[Tensor, Any]:
    """``step(x[t], state)`` for ``t < T``, as a sequence kernel: ``(output (T, N, *), state)``
    (a nested output gives the nested tuple of its leaves stacked over time).

    ``linears`` (from :func:`interceptable_linears`) are hoisted or deferred; with ``valid
    (T, N)`` the output and state rows of padded steps are zero, as ``mask_zero`` does.
    Under ``torch.autocast`` nothing is intercepted: autocast casts each ``nn.Linear`` call
    as on the step path, which the batched products would bypass.
    """

    def kernel(x: Tensor, state: Any, valid: Tensor | None) -> tuple[Tensor, Any]:
        outputs = []
        with _intercepted([] if autocast_dtype(x) else linears, x) as ic:
            for t in range(x.size(0)):
                out, state = step(ic.step_input(t), state)
                if valid is not None:
                    pad = valid[t] == 0
                    if bool(pad.any()):
                        out, state = zero_rows((out, state), pad)
                outputs.append(out)
        return _nest.stack(outputs), state

    return chunked(kernel, x, state, valid)
