"""Shared input validation: every error names the module, what it expected and what it got."""

from __future__ import annotations

import contextlib
import math
import numbers
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

_M = TypeVar("_M", bound=Callable[..., Any])


def describe_shape(shape: Sequence) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def expect_tensor(module: str, x: object, what: str = "input") -> torch.Tensor:
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


def expect_features(module: str, x: torch.Tensor, size: int, like: torch.Tensor, what: str = "input") -> None:
    """A floating ``(N, size)`` step input with the dtype and device of the parameter ``like``."""
    expect_tensor(module, x, what)
    expect_shape(module, x, ("N", size), what)
    expect_floating(module, x, what)
    expect_like(module, x, like, what)


def expect_like(module: str, x: torch.Tensor, like: torch.Tensor, what: str = "input") -> None:
    """Same dtype and device as the module's parameters (no silent casts), or, inside an
    autocast region, its dtype (what the ops before gave: the user asked for those casts)."""
    kind = like.device.type
    casting = torch.is_autocast_enabled(kind) and x.dtype == torch.get_autocast_dtype(kind)
    if (x.dtype != like.dtype and not casting) or x.device != like.device:
        raise TypeError(
            f"{module}: expected {what} with dtype {like.dtype} on {like.device} (as its "
            f"parameters), got {x.dtype} on {x.device}"
        )


def is_int(value: object) -> bool:
    """A Python or numpy integer (not a bool): what ``nn.Linear`` accepts as a size."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def expect_positive_int(module: str, value: Any, name: str) -> int:
    if not is_int(value) or value < 1:
        raise ValueError(f"{module}: expected {name} to be a positive int, got {value!r}")
    return int(value)


def expect_int(module: str, value: Any, name: str, minimum: int = 0) -> int:
    if not is_int(value) or value < minimum:
        raise ValueError(f"{module}: expected {name} to be an int >= {minimum}, got {value!r}")
    return int(value)


def expect_float(
    module: str,
    value: Any,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number in ``[low, high]`` (an open end with ``low_open``/``high_open``)."""
    if math.isinf(high) and math.isinf(low):
        interval = ""
    elif math.isinf(high):
        interval = f" {'>' if low_open else '>='} {low:g}"
    else:
        interval = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (
            math.isfinite(value)
            and (value > low if low_open else value >= low)
            and (value < high if high_open else value <= high)
        )
    if not ok:
        raise ValueError(
            f"{module}: expected {name} to be a finite number{interval}, got {value!r}"
        )
    return value


def expect_merge(module: str, merge: _M | None) -> _M | None:
    """``None`` (the default merge) or a callable taking two sequences (usually an ``nn.Module``)."""
    if merge is not None and not callable(merge):
        raise TypeError(
            f"{module}: expected merge to be None or a module called as merge(fwd, bwd), got "
            f"{type(merge).__name__} {merge!r}"
        )
    return merge


_NAMED = re.compile(r"^[A-Z][A-Za-z0-9_.]*: ")


def named_errors(module: str) -> contextlib.AbstractContextManager:
    """Re-raise an inner rnnkit module's ``ValueError``/``TypeError`` under ``module``'s name.

    A user who called ``SeqBRNN`` reads ``SeqBRNN: SeqLSTM: expected …``: the module they
    called first, the inner message kept whole. Errors that are not rnnkit's own (no
    ``Name: `` prefix) pass through unchanged, so a bug is never disguised as a named error.
    Under ``torch.compile`` it does nothing: dynamo cannot break a graph inside a generator's
    context manager and would run the whole frame uncompiled.
    """
    return contextlib.nullcontext() if torch.compiler.is_compiling() else _named_errors(module)


@contextlib.contextmanager
def _named_errors(module: str) -> Iterator[None]:
    try:
        yield
    except (ValueError, TypeError) as e:
        message = str(e)
        if not _NAMED.match(message) or message.startswith(f"{module}:"):
            raise
        raise type(e)(f"{module}: {message}").with_traceback(e.__traceback__) from None


def describe_value(value: object) -> str:
    """``(3, 4) float32`` for a tensor, ``((3, 4) float32, (3,) int64)`` for a tuple of them."""
    if isinstance(value, torch.Tensor):
        return f"{describe_shape(tuple(value.shape))} {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe_value(v) for v in value) + ")"
    return type(value).__name__


@contextlib.contextmanager
def user_errors(module: str, what: str, received: object) -> Iterator[None]:
    """Name ``module`` in any error raised by a module the user gave it (``what``).

    A wrapper (``Recursor``, ``Recurrence``, ``MaskZero``, a criterion decorator …) cannot know
    what its user's module accepts, so an error from inside it — PyTorch's own included —
    is re-raised as ``TypeError``/``ValueError`` naming the wrapper, what it called, and what
    that received, with the original message (and the original error as its cause).
    """
    try:
        yield
    except (RuntimeError, IndexError, TypeError, ValueError, AttributeError) as e:
        message = str(e)
        if _NAMED.match(message):
            if message.startswith(f"{module}:"):
                raise
            raise (
                type(e)(f"{module}: {message}")
                if isinstance(e, (TypeError, ValueError))
                else ValueError(f"{module}: {message}")
            ) from e
        kind = TypeError if isinstance(e, (TypeError, AttributeError)) else ValueError
        raise kind(
            f"{module}: {what} failed on {describe_value(received)}: {type(e).__name__}: {message}"
        ) from e
