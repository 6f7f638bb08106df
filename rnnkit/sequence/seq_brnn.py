"""SeqBRNN: bidirectional ``SeqLSTM``, the original ``nn.SeqBRNN``."""

from __future__ import annotations

import torch
from torch import nn

from .seq_lstm import SeqLSTM


class SeqBRNN(nn.Module):
    """``merge(fwd(x), reverse(bwd(reverse(x))))`` with two ``SeqLSTM`` (fused kernels).

    Args:
        input_size: ``D``. output_size: ``H`` of each direction.
        batch_first: tensors are ``(N, T, *)``.
        merge: a module called as ``merge(fwd_out, bwd_out)`` on whole sequences; element-wise
            addition by default (output ``H``); e.g. ``JoinTable(-1)`` concatenates (``2H``).
        maskzero: passed to both directions; each direction then treats padding as
            ``SeqLSTM`` does (the backward direction starts at each row's last real step).

    Shape:
        ``(T, N, D)`` → ``(T, N, H)`` (sum) or ``(T, N, 2H)`` (concatenation).

    Example:
        >>> brnn = SeqBRNN(10, 8)
        >>> brnn(torch.randn(5, 4, 10)).shape
        torch.Size([5, 4, 8])
    """

    def __init__(
        self, input_size: int, output_size: int, batch_first: bool = False,
        merge: nn.Module | None = None, *, maskzero: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.batch_first = bool(batch_first)
        self.fwd = SeqLSTM(input_size, output_size, batch_first, maskzero)
        self.bwd = SeqLSTM(input_size, output_size, batch_first, maskzero)
        self.merge = merge

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        time = 1 if self.batch_first else 0
        fwd = self.fwd(input)
        bwd = self.bwd(input.flip(time)).flip(time)
        if self.merge is None:
            return fwd + bwd
        return self.merge(fwd, bwd)
