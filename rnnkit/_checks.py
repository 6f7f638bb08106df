"""Shared input validation: every error names the module, what it expected and what it got."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def describe_shape(shape: Sequence) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def expect_tensor(module: str, x, what: str = "input") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{module}: expected {what} to be a torch.Tensor, got {type(x).__name__}")
    return x


def expect_floating(module: str, x: torch.Tensor, what: str = "input") -> None:
    if not x.is_floating_point():
        raise TypeError(
            f"{module}: expected a floating-point {what} (e.g. torch.float32), got {x.dtype}"
        )


def expect_integer(module: str, x: torch.Tensor, what: str = "input") -> None:
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{module}: expected integer indices (torch.long) as {what}, got {x.dtype}")


def expect_shape(module: str, x: torch.Tensor, expected: Sequence, what: str = "input") -> None:
    """Check ``x.shape`` against ``expected``, where a str entry (``"N"``) matches any size."""
    ok = x.dim() == len(expected) and all(
        isinstance(e, str) or int(e) == s for e, s in zip(expected, x.shape)
    )
    if not ok:
        raise ValueError(
            f"{module}: expected {what} of shape {describe_shape(expected)}, "
            f"got {describe_shape(tuple(x.shape))}"
        )


def expect_features(module: str, x, size: int, like: torch.Tensor, what: str = "input") -> None:
    """A floating ``(N, size)`` step input with the dtype and device of the parameter ``like``."""
    expect_tensor(module, x, what)
    expect_shape(module, x, ("N", size), what)
    expect_floating(module, x, what)
    expect_like(module, x, like, what)


def expect_like(module: str, x: torch.Tensor, like: torch.Tensor, what: str = "input") -> None:
    """Same dtype and device as the module's parameters (no silent casts)."""
    if x.dtype != like.dtype or x.device != like.device:
        raise TypeError(
            f"{module}: expected {what} with dtype {like.dtype} on {like.device} (as its "
            f"parameters), got {x.dtype} on {x.device}"
        )


def expect_positive_int(module: str, value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{module}: expected {name} to be a positive int, got {value!r}")
    return value
