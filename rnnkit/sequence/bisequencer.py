"""BiSequencer: bidirectional sequence decorator, the original ``nn.BiSequencer``.

The forward module reads the sequence left to right, the backward module right to left
(on the reversed sequence, its outputs reversed back), and the two outputs are merged at
each step (Schuster & Paliwal 1997; Graves et al. 2013).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .. import _seqio
from .._checks import expect_merge, named_errors
from ..layers.reverse_sequence import reverse_time
from .abstract import AbstractSequencer
from .sequencer import Sequencer


def as_sequence_module(module: nn.Module, batch_first: bool) -> AbstractSequencer:
    """Step modules (and plain modules) go in a ``Sequencer``; sequence modules are used as they are."""
    if isinstance(module, AbstractSequencer):
        return module
    return Sequencer(module, batch_first=batch_first)


def fresh_copy(module: nn.Module) -> nn.Module:
    """A deep copy with its own, freshly initialised parameters and no state."""
    clone = copy.deepcopy(module)
    for m in clone.modules():
        if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
            m.reset_parameters()
    if hasattr(clone, "forget"):
        clone.forget()  # type: ignore[operator]  # torch types any Module attribute as Tensor | Module
    return clone


def merge_steps(merge: nn.Module | None, fwd: Any, bwd: Any, as_tensor: bool) -> Any:
    """Merge two sequences step by step (concatenating features when ``merge`` is None)."""
    if merge is None and as_tensor:
        return torch.cat((fwd, bwd), -1)
    merge_fn = merge if merge is not None else (lambda a, b: torch.cat((a, b), -1))
    steps = [merge_fn(f, b) for f, b in zip(fwd, bwd)]
    return torch.stack(steps) if as_tensor else steps


class BiSequencer(AbstractSequencer):
    """Runs ``fwd`` over the sequence and ``bwd`` over its reverse, and merges them per step.

    ``y[t] = merge(fwd(x)[t], reverse(bwd(reverse(x)))[t])``: ``y[t]`` depends on the whole
    sequence. ``remember`` applies to ``fwd`` only: ``bwd`` always starts from zero state, since
    carrying it over would leak the future.

    Args:
        fwd: a step module (put in a ``Sequencer``) or a sequence module (``SeqLSTM`` …).
        bwd: the same for the backward direction; defaults to a copy of ``fwd`` with its own,
            freshly initialised parameters.
        merge: a module called as ``merge(fwd_out_t, bwd_out_t)``; by default the features are
            concatenated, forward first.
        batch_first: tensors are ``(N, T, *)`` (applies to step modules wrapped here).

    Shape:
        ``(T, N, D)`` → ``(T, N, H_fwd + H_bwd)`` with the default merge; a list in gives a list out.

    Example:
        >>> brnn = BiSequencer(FastLSTM(10, 8))
        >>> brnn(torch.randn(5, 4, 10)).shape
        torch.Size([5, 4, 16])
    """

    def __init__(
        self, fwd: nn.Module, bwd: nn.Module | None = None, merge: nn.Module | None = None,
        *, batch_first: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.batch_first = bool(batch_first)
        self.fwd = as_sequence_module(fwd, self.batch_first)
        bwd = fresh_copy(fwd) if bwd is None else bwd
        self.bwd = as_sequence_module(bwd, self.batch_first)
        self.merge = expect_merge(type(self).__name__, merge)

    def remember(self, mode: str = "both") -> BiSequencer:
        super().remember(mode)
        self.fwd.remember(mode)
        return self

    def get_state(self) -> Any:
        """The forward direction's state (the backward one always starts from zeros)."""
        return self.fwd.get_state()

    def set_state(self, state: Any) -> None:
        """Start the forward direction's next call from ``state``."""
        with named_errors(type(self).__name__):
            self.fwd.set_state(state)

    def forward(self, input: Any) -> Any:
        """``merge(fwd(x), reversed(bwd(reversed(x))))`` for ``x (T, N, D)`` or a list of steps."""
        _, as_tensor = _seqio.split(type(self).__name__, input, self.batch_first)
        self.bwd.forget()
        with named_errors(type(self).__name__):
            fwd_out = self.fwd(input)
            bwd_out = self.bwd(reverse_time(input, self.batch_first))
        bwd_out = reverse_time(bwd_out, self.batch_first)
        if as_tensor and self.batch_first and isinstance(fwd_out, torch.Tensor):
            merged = merge_steps(self.merge, fwd_out.transpose(0, 1), bwd_out.transpose(0, 1), True)
            return merged.transpose(0, 1)
        return merge_steps(self.merge, fwd_out, bwd_out, as_tensor)
