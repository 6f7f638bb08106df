"""SeqReverseSequence: reverses a sequence along a dimension, the original ``nn.SeqReverseSequence``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def reverse_time(seq: Any, batch_first: bool = False) -> Any:
    """A ``(T, N, *)`` tensor flipped in time (``(N, T, *)`` with ``batch_first``), or a list reversed."""
    if isinstance(seq, torch.Tensor):
        return seq.flip(1 if batch_first else 0)
    return list(reversed(seq))


class SeqReverseSequence(nn.Module):
    """Reverses its input along ``dim`` (the gradient is reversed likewise).

    Lists and tuples of step tensors are reversed as sequences when ``dim`` is 0.

    Example:
        >>> SeqReverseSequence(0)(torch.arange(3).view(3, 1))
        tensor([[2],
                [1],
                [0]])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"SeqReverseSequence: expected dim to be an int, got {dim!r}")
        self.dim = dim

    def forward(self, input: Any) -> Any:
        """``input`` reversed along ``dim`` (a list or tuple of steps reversed when ``dim`` is 0)."""
        if isinstance(input, (list, tuple)):
            if self.dim != 0:
                raise ValueError(
                    f"SeqReverseSequence: a list is a sequence along dim 0, got dim={self.dim}"
                )
            return list(reversed(input))
        if not isinstance(input, torch.Tensor):
            raise TypeError(
                f"SeqReverseSequence: expected a tensor or a list, got {type(input).__name__}"
            )
        if not -input.dim() <= self.dim < input.dim():
            raise ValueError(
                f"SeqReverseSequence: dim {self.dim} is out of range for an input of shape "
                f"{tuple(input.shape)}"
            )
        return input.flip(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
