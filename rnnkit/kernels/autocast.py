"""The sequence kernels under ``torch.autocast``: cast by hand, as the fused layers do.

Autocast casts the inputs of the ops it lists (matrix products, ``addmm``) and leaves the
rest alone, so inside a kernel that writes into preallocated buffers and multiplies against
weights prepared once per call it would mix dtypes and fail inside torch. A kernel wrapped
with :func:`casts_for_autocast` instead runs, when autocast is on for its input's device, on
every floating-point tensor argument cast to autocast's dtype with autocast off: the
matrix products *and* the element-wise work in that dtype, as ``SeqLSTM``'s fused kernel runs
under autocast (``rnnkit.sequence.fused``). The casts are differentiable, so the parameters'
gradients come back in their own dtype. The output stays in autocast's dtype (what an
autocast ``F.linear`` gives); the final states are cast back to the initial state's dtype,
so that a carried state keeps its dtype from call to call.

Shapes: the wrapped kernel's; its first argument is the input ``x``, its second the initial
state (a tensor), and it returns ``(output, *final_states)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor

_Kernel = TypeVar("_Kernel", bound=Callable[..., Any])


def autocast_dtype(x: Tensor) -> torch.dtype | None:
    """Autocast's dtype for ``x``'s device when autocast is on there, else ``None``."""
    device = x.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return None


def _cast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, tuple):
        return tuple(_cast(v, dtype) for v in value)
    return value


def casts_for_autocast(kernel: _Kernel) -> _Kernel:
    """``kernel``, run on its arguments cast to autocast's dtype when autocast is on."""

    @functools.wraps(kernel)
    def run(x: Tensor, state: Tensor, *args: Any, **kwargs: Any) -> Any:
        low = autocast_dtype(x)
        if low is None:
            return kernel(x, state, *args, **kwargs)
        with torch.autocast(x.device.type, enabled=False):
            out, *finals = kernel(_cast(x, low), _cast(state, low), *_cast(args, low),
                                  **{k: _cast(v, low) for k, v in kwargs.items()})  # fmt: skip
        return (out, *(f.to(state.dtype) for f in finals))

    return run  # type: ignore[return-value]
