"""List-or-tensor sequence I/O shared by every sequence module and criterion.

A sequence is either a tensor ``(T, N, *)`` (``(N, T, *)`` with ``batch_first``) or a
list/tuple of ``T`` step values (tensors ``(N, *)`` or nested tuples of them). Modules
return the kind they were given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from . import _nest


def split(
    module: str, seq: Any, batch_first: bool = False, what: str = "input"
) -> tuple[list, bool]:
    """``seq`` as a list of step values, and whether it came as a tensor."""
    if isinstance(seq, torch.Tensor):
        if seq.dim() < 2:
            layout = "(N, T, *)" if batch_first else "(T, N, *)"
            raise ValueError(
                f"{module}: expected {what} to be a {layout} tensor or a list of T (N, *) "
                f"tensors, got a tensor of shape {tuple(seq.shape)}"
            )
        if seq.size(1 if batch_first else 0) == 0:
            raise ValueError(
                f"{module}: expected a sequence of at least one step, got {what} of shape {tuple(seq.shape)}"
            )
        return list(seq.unbind(1 if batch_first else 0)), True
    if isinstance(seq, (list, tuple)):
        if not seq:
            raise ValueError(
                f"{module}: expected a sequence of at least one step, got an empty {type(seq).__name__}"
            )
        check_batch_sizes(module, seq, what)
        return list(seq), False
    raise TypeError(
        f"{module}: expected {what} to be a tensor or a list of tensors, got {type(seq).__name__}"
    )


def check_batch_sizes(module: str, steps: Sequence, what: str = "input") -> None:
    sizes = []
    for t, step in enumerate(steps):
        first = _nest.first_tensor(step)
        if first is None:
            raise TypeError(
                f"{module}: expected step {t} of the {what} to hold a tensor, got {type(step).__name__}"
            )
        sizes.append(first.size(0) if first.dim() > 0 else None)
    if len(set(sizes)) > 1:
        raise ValueError(
            f"{module}: expected every step of the {what} to have the same batch size, "
            f"got batch sizes {sizes}"
        )


def join(steps: list, as_tensor: bool, batch_first: bool = False) -> Any:
    """Stack step outputs into a tensor when the input was one (and the outputs are tensors)."""
    if as_tensor and all(isinstance(s, torch.Tensor) for s in steps):
        return torch.stack(steps, 1 if batch_first else 0)
    return list(steps)


def as_sequence(seq: Any, steps: list, as_tensor: bool, batch_first: bool = False) -> Any:
    """``seq`` for a whole-sequence kernel: a ``(T, N, *)`` tensor, or the list of its steps
    when they are tensors of one shape and dtype (stacked by the kernel's caller, as far as
    it needs); ``None`` for any other list (nested tuples), which is left to stepping.
    """
    if as_tensor:
        return seq.transpose(0, 1) if batch_first else seq
    first = steps[0]
    if not isinstance(first, torch.Tensor) or not all(
        isinstance(s, torch.Tensor) and s.shape == first.shape and s.dtype == first.dtype
        for s in steps
    ):
        return None
    return steps


def steps_of(x: Any, start: int, stop: int) -> torch.Tensor:
    """Steps ``start:stop`` of a sequence from :func:`as_sequence`, as one tensor."""
    return x[start:stop] if isinstance(x, torch.Tensor) else torch.stack(x[start:stop])


def from_sequence(chunks: list, as_tensor: bool, batch_first: bool = False) -> Any:
    """The output of a kernel, ``(T_k, N, *)`` chunks in time order, in the form the input came in.

    Chunks that are nested tuples of tensors (a step output ``(h, c)``) give a list of ``T``
    such tuples, as stepping does.
    """
    if not all(isinstance(c, torch.Tensor) for c in chunks):
        return [step for chunk in chunks for step in _nest.unbind(chunk)]
    if as_tensor:
        output = chunks[0] if len(chunks) == 1 else torch.cat(chunks)
        return output.transpose(0, 1) if batch_first else output
    return [step for chunk in chunks for step in chunk.unbind(0)]
