"""The zero-mask mechanism: find the rows that are padding, zero them, or skip them.

A row of a step input is padding when all its features are zero (the original package's
"version 1" masking): the first tensor of the input, depth-first, decides. Every module
that masks (step modules with ``mask_zero``/``trim_zero``, ``MaskZero``, ``TrimZero``,
``MaskZeroCriterion``) goes through these functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import _nest


def check_n_input_dim(module: str, n_input_dim: Any) -> int:
    if isinstance(n_input_dim, bool) or not isinstance(n_input_dim, int) or n_input_dim < 0:
        raise ValueError(f"{module}: expected n_input_dim to be an int >= 0, got {n_input_dim!r}")
    return n_input_dim


def zero_rows(module: str, x: Any, n_input_dim: int) -> torch.Tensor:
    """``(N,)`` bool: which rows of the batch ``x`` are all zeros (padding).

    ``x``'s first tensor must be a batch ``(N, *)`` with ``n_input_dim`` non-batch dims.
    Integer tensors are token indices (index 0 is padding) and need ``n_input_dim=0``.
    """
    t = _nest.first_tensor(x)
    if t is None:
        raise TypeError(
            f"{module}: expected the input to contain a tensor to mask on, got {type(x).__name__}"
        )
    if t.dim() != n_input_dim + 1:
        raise ValueError(
            f"{module}: with n_input_dim={n_input_dim} expected the first input tensor to be a "
            f"batch with {n_input_dim + 1} dims (N, ...), got shape {tuple(t.shape)}"
        )
    if not t.is_floating_point() and n_input_dim > 0:
        raise TypeError(
            f"{module}: expected a floating-point tensor to mask on with n_input_dim="
            f"{n_input_dim}, got {t.dtype} (integer indices are masked with n_input_dim=0)"
        )
    return (t == 0) if n_input_dim == 0 else (t.flatten(1) == 0).all(1)  # (N,), N may be 0


def zero_masked(obj: Any, mask: torch.Tensor) -> Any:
    """Every tensor of ``obj`` with the rows in ``mask`` set to zero (no gradient through them)."""

    def fill(t: torch.Tensor) -> torch.Tensor:
        return t.masked_fill(mask.view(-1, *([1] * (t.dim() - 1))), 0)

    return _map_once(fill, obj)


def _map_once(fn: Callable[[torch.Tensor], torch.Tensor], obj: Any) -> Any:
    """``map_tensors``, computing ``fn`` once per distinct tensor (``h`` is both output and state)."""
    done: dict[int, torch.Tensor] = {}

    def once(t: torch.Tensor) -> torch.Tensor:
        key = id(t)
        if key not in done:
            done[key] = fn(t)
        return done[key]

    return _nest.map_tensors(once, obj)


def select_rows(obj: Any, index: torch.Tensor) -> Any:
    return _map_once(lambda t: t.index_select(0, index), obj)


def scatter_rows(obj: Any, index: torch.Tensor, n_rows: int) -> Any:
    """Place the rows of ``obj`` at ``index`` in zero tensors of ``n_rows`` rows."""

    def scatter(t: torch.Tensor) -> torch.Tensor:
        return t.new_zeros(n_rows, *t.shape[1:]).index_copy(0, index, t)

    return _map_once(scatter, obj)


def masked_call(fn: Callable, args: tuple, mask: torch.Tensor, trim: bool) -> Any:
    """``fn(*args)`` with the masked rows' results zeroed.

    With ``trim``, ``fn`` only sees the rows that are kept (every tensor in ``args`` is
    batch-first) and the results are scattered back; without it, ``fn`` sees every row and
    the masked ones are zeroed afterwards. The two agree exactly.
    """
    if not bool(mask.any()):
        return fn(*args)
    if trim and not bool(mask.all()):
        keep = (~mask).nonzero().squeeze(1)
        result = fn(*select_rows(args, keep))
        return scatter_rows(result, keep, mask.size(0))
    return zero_masked(fn(*args), mask)
