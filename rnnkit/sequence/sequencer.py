"""Sequencer: applies a step module (or any module) to every step of a sequence.

Replaces the original ``nn.Sequencer`` (Element-Research/rnn). Non-recurrent modules are
wrapped in a ``Recursor``, so one ``Sequencer`` can drive an ``nn.Sequential`` that mixes
step modules (``FastLSTM``, ``GRU`` …) with ordinary ones (``nn.Linear``, ``nn.Dropout``).
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from .. import _seqio
from .._checks import expect_integer, named_errors
from ..kernels.scan import exporting
from ..recurrent.abstract import AbstractRecurrent
from ..recurrent.module_tree import sequence_window
from ..recurrent.recursor import Recursor
from ..recurrent.whole_sequence import scannable
from .abstract import AbstractSequencer


def _first_leaf(module: nn.Module) -> nn.Module:
    """The first module that sees the step input (through Recursors and containers)."""
    while not isinstance(module, nn.Embedding):
        children = list(module.children())
        if not children or (
            isinstance(module, AbstractRecurrent) and not isinstance(module, Recursor)
        ):
            return module
        module = children[0]
    return module


def as_step_module(module: nn.Module, owner: str) -> AbstractRecurrent:
    """``module`` itself if it is a step module, else ``Recursor(module)``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"{owner}: expected an nn.Module, got {type(module).__name__}")
    return module if isinstance(module, AbstractRecurrent) else Recursor(module)


class Sequencer(AbstractSequencer):
    """Applies ``module`` to each step of a sequence, carrying the step modules' state.

    ``Sequencer(m)(x)[t] == m(x[t])`` called for ``t = 0 .. T-1`` in order, after
    ``forget()`` (unless remembering). Each step module's ``rho`` is respected: with
    ``T > rho``, the first ``T - rho`` steps run without a graph and pass no gradient.

    Args:
        module: a step module, or any module (wrapped in a ``Recursor``).
        batch_first: tensors are ``(N, T, *)`` instead of ``(T, N, *)``.

    Shape:
        ``(T, N, *)`` tensor → ``(T, N, *)`` tensor; a list of ``T`` step values → a list
        of ``T`` outputs (also when the step outputs are tuples).

    Example:
        >>> model = Sequencer(nn.Sequential(FastLSTM(10, 20), nn.Linear(20, 5)))
        >>> model(torch.randn(7, 4, 10)).shape
        torch.Size([7, 4, 5])
        >>> model.remember("both")  # carry the state into the next call (truncated BPTT)
        Sequencer(...)
    """

    def __init__(self, module: nn.Module, batch_first: bool = False) -> None:
        super().__init__()
        self.module = as_step_module(module, type(self).__name__)
        self.batch_first = bool(batch_first)
        self._takes_indices = isinstance(_first_leaf(self.module), nn.Embedding)

    def forward(self, input: Any) -> Any:
        """The module applied to each step of ``input (T, N, *)`` (or a list of ``T`` steps), in order."""
        name = type(self).__name__
        if exporting() and isinstance(input, torch.Tensor) and scannable(self.module):
            return self._forward_exported(input)
        steps, as_tensor = _seqio.split(name, input, self.batch_first)
        if self._takes_indices and isinstance(steps[0], torch.Tensor):
            what = "input (its first layer is an nn.Embedding)"
            expect_integer(name, steps[0], what)
            n = cast(nn.Embedding, _first_leaf(self.module)).num_embeddings  # _takes_indices
            for x in steps if not as_tensor else (input,):
                if x.numel() and not bool(((x >= 0) & (x < n)).all()):
                    raise ValueError(
                        f"{name}: expected indices in [0, {n - 1}] as {what}, got values in "
                        f"[{int(x.min())}, {int(x.max())}]"
                    )
        self.begin_call()
        with sequence_window(self.module, len(steps)), named_errors(name):
            whole = _seqio.as_sequence(input, steps, as_tensor, self.batch_first)
            output = None if whole is None else self.module.run_sequence(whole)
            if output is not None:  # the module's sequence kernel ran every step
                return _seqio.from_sequence(output, as_tensor, self.batch_first)
            outputs = [self.module(x) for x in steps]
        return _seqio.join(outputs, as_tensor, self.batch_first)

    def _forward_exported(self, input: torch.Tensor) -> torch.Tensor:
        """Under ``torch.export``: the module's steps as one ``scan``, the length kept dynamic."""
        _seqio.split(type(self).__name__, input[:1] if not self.batch_first else input[:, :1],
                     self.batch_first)  # the shape checks, on one step  # fmt: skip
        self.begin_call()
        with named_errors(type(self).__name__):
            whole = input.transpose(0, 1) if self.batch_first else input
            output = cast(list, self.module.run_sequence(whole))  # scannable: never None
        return _seqio.from_sequence(output, True, self.batch_first)

    def extra_repr(self) -> str:
        parts = ["batch_first=True" if self.batch_first else "", super().extra_repr()]
        return ", ".join(p for p in parts if p)
