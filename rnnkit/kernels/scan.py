"""The time loop as one traced operation, for ``torch.export`` and ONNX: torch's ``scan``.

Eager and compiled runs use the whole-sequence kernels. Under ``torch.export`` a Python time
loop would be traced step by step: the exported graph would hold ``T`` copies of the step
and accept only the example's length. :func:`scan_steps` instead traces the step once into
torch's ``scan`` higher-order op, which the exported program runs as a loop (ONNX: a ``Scan``
node), so the sequence length (and the batch size) stay dynamic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch._higher_order_ops.scan import scan

from .. import _nest
from .intercept import zero_rows

StepFn = Callable[[Any, Any], tuple[Tensor, Any]]


def exporting() -> bool:
    """Whether the code runs under ``torch.export`` (then the time loop is :func:`scan_steps`)."""
    return bool(torch.compiler.is_exporting())


def scan_steps(
    step: StepFn, state: Any, x: Any, valid: Tensor | None = None
) -> tuple[Tensor, Any]:
    """``step(x[t], state) -> (out_t, state)`` for ``t = 0 .. T-1`` as one ``scan``.

    Args:
        step: one time step, pure (no carried state of its own).
        state: the initial state, a tensor or a nested tuple of tensors ``(N, *)``.
        x: ``(T, N, *)``, or a tuple of such tensors (each step gets the tuple of slices).
        valid: ``(T, N)`` bool or ``None``; where false the row is padding: its output and
            its state after that step are zeros (``mask_zero``'s reset).

    Returns:
        ``outputs (T, N, *)`` and the final state.
    """
    xs = (x, valid) if valid is not None else (x,)

    def combine(carry: Any, xs_t: tuple) -> tuple[Any, Tensor]:
        out, new = step(xs_t[0], carry)
        if valid is not None:
            out, new = zero_rows((out, new), ~xs_t[1])  # as mask_zero's step path
        # scan's outputs may not alias its carry (an LSTM's output is its new h): copy it.
        return new, out.clone()

    # A carry may not alias another (a step module's zero state is often one tensor as h and c).
    final, outputs = scan(combine, _nest.map_tensors(torch.clone, state), xs)
    return outputs, final
