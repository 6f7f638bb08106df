"""SeqBRNN: bidirectional ``SeqLSTM``, the original ``nn.SeqBRNN``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import _seqio
from .._checks import expect_merge, named_errors
from .abstract import AbstractSequencer
from .seq_lstm import SeqLSTM


class SeqBRNN(AbstractSequencer):
    """``merge(fwd(x), reverse(bwd(reverse(x))))`` with two ``SeqLSTM`` (fused kernels).

    Args:
        input_size: ``D``. output_size: ``H`` of each direction.
        batch_first: tensors are ``(N, T, *)``.
        merge: a module called as ``merge(fwd_out, bwd_out)`` on whole sequences; element-wise
            addition by default (output ``H``); e.g. ``JoinTable(-1)`` concatenates (``2H``).
        maskzero: passed to both directions; each direction then treats padding as
            ``SeqLSTM`` does (the backward direction starts at each row's last real step).

    ``remember`` and ``get_state``/``set_state`` apply to the forward direction; the backward
    one starts every call from zeros (carrying it over would leak the future).

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
        name = type(self).__name__
        self.batch_first = bool(batch_first)
        with named_errors(name):
            self.fwd = SeqLSTM(input_size, output_size, batch_first, maskzero)
            self.bwd = SeqLSTM(input_size, output_size, batch_first, maskzero)
        self.merge = expect_merge(name, merge)

    def remember(self, mode: str = "both") -> SeqBRNN:
        """Carry the forward direction's state between calls (the backward one always starts at zero)."""
        super().remember(mode)
        self.fwd.remember(mode)
        return self

    def get_state(self) -> Any:
        """The forward direction's state ``(h, c)`` (``None``: zeros)."""
        return self.fwd.get_state()

    def set_state(self, state: Any) -> None:
        """Start the forward direction's next call from ``state`` (the backward one starts from zeros)."""
        with named_errors(type(self).__name__):
            self.fwd.set_state(state)

    def forward(self, input: Any) -> Any:
        """Both directions over ``(T, N, D)`` (``(N, T, D)`` with ``batch_first``), merged."""
        name = type(self).__name__
        steps, as_tensor = _seqio.split(name, input, self.batch_first)
        x = input if as_tensor else torch.stack(steps, 1 if self.batch_first else 0)
        time = 1 if self.batch_first else 0
        self.bwd.forget()
        with named_errors(name):
            fwd = self.fwd(x)
            bwd = self.bwd(x.flip(time)).flip(time)
            out = fwd + bwd if self.merge is None else self.merge(fwd, bwd)
        return out if as_tensor else list(out.unbind(time))
