"""BiSequencerLM: bidirectional decorator for language models, the original ``nn.BiSequencerLM``.

The output at step ``t`` may be used to predict ``x[t]``: it depends only on the steps
before ``t`` (forward direction) and after ``t`` (backward direction), never on ``x[t]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import _seqio
from .._checks import expect_merge, named_errors
from .abstract import AbstractSequencer, refuse_remember
from .bisequencer import as_sequence_module, fresh_copy, merge_steps


class BiSequencerLM(AbstractSequencer):
    """``y[t] = merge(f[t], b[t])`` with ``f[t] = fwd(x[0..t-1])`` and ``b[t] = bwd(x[T-1..t+1])``.

    ``fwd`` runs on steps ``0..T-2`` and its outputs are shifted one step later (``f[0]`` is
    zeros); ``bwd`` runs on the reversed steps ``T-1..1`` and its outputs, reversed back, are
    shifted one step earlier (``b[T-1]`` is zeros). Needs ``T >= 2``.

    Args:
        fwd, bwd, merge: as in :class:`BiSequencer`.

    Shape:
        ``(T, N, D)`` → ``(T, N, H_fwd + H_bwd)`` with the default merge; lists give lists.

    Example:
        >>> bilm = BiSequencerLM(FastLSTM(10, 8))
        >>> bilm(torch.randn(5, 4, 10)).shape
        torch.Size([5, 4, 16])
    """

    def __init__(
        self, fwd: nn.Module, bwd: nn.Module | None = None, merge: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.fwd = as_sequence_module(fwd, False)
        self.bwd = as_sequence_module(fresh_copy(fwd) if bwd is None else bwd, False)
        self.merge = expect_merge(type(self).__name__, merge)

    def remember(self, mode: str = "both") -> BiSequencerLM:
        # The backward half reads the future, and the forward half only sees x[:-1]: a
        # state carried into the next call would not be the state before its first step.
        refuse_remember(self, mode, "every call starts both directions from zero state")
        return super().remember(mode)

    def get_state(self) -> Any:
        """``None``: every call starts both directions from zero state."""
        return None

    def set_state(self, state: Any) -> None:
        """Refused (unless ``None``): every call starts both directions from zero state."""
        if state is not None:
            raise ValueError(
                "BiSequencerLM: set_state is not supported; every call starts both directions "
                "from zero state"
            )

    def forward(self, input: Any) -> Any:
        """Step ``t``'s output merges the forward state after ``x[0..t-1]`` with the backward state
        after ``x[t+1..T-1]`` (zeros at the ends), for ``x (T, N, D)`` or a list of steps."""
        name = type(self).__name__
        steps, as_tensor = _seqio.split(name, input)
        if len(steps) < 2:
            raise ValueError(f"{name}: expected a sequence of at least 2 steps, got {len(steps)}")
        self.fwd.forget()
        self.bwd.forget()
        with named_errors(name):
            f = self.fwd(input[:-1])  # f[t] sees x[0..t]; shifted below so step t+1 gets it
            b = self.bwd(input[1:].flip(0) if as_tensor else list(reversed(steps[1:])))
        f_seq: torch.Tensor | list[torch.Tensor]
        b_seq: torch.Tensor | list[torch.Tensor]
        if as_tensor:
            zeros_f, zeros_b = torch.zeros_like(f[:1]), torch.zeros_like(b[:1])
            f_seq = torch.cat((zeros_f, f))
            b_seq = torch.cat((b.flip(0), zeros_b))
        else:
            f_seq = [torch.zeros_like(f[0]), *f]
            b_seq = [*reversed(b), torch.zeros_like(b[0])]
        return merge_steps(self.merge, f_seq, b_seq, as_tensor)
