"""Recursor: makes any module a step module, the original ``nn.Recursor``.

Each call is one time step with shared parameters. The original needed one clone of the
module per step to keep the activations; here autograd keeps them. Step modules nested
inside ``module`` keep their own state and step in sync with the ``Recursor``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from .. import _nest
from .._checks import user_errors
from .abstract import AbstractRecurrent, SequenceKernel
from .module_tree import nested_state, outer_recurrent_modules, set_nested_state
from .row_wise import apply_to_rows, is_row_wise


def _chain(module: nn.Module) -> list[nn.Module] | None:
    """``module`` as the list of modules it applies in turn (``nn.Sequential`` flattened)."""
    if type(module) is not nn.Sequential or module._forward_hooks or module._forward_pre_hooks:
        return [module] if not isinstance(module, nn.Sequential) else None
    parts = []
    for child in module:
        sub = _chain(child)
        if sub is None:
            return None
        parts += sub
    return parts


class Recursor(AbstractRecurrent):
    """Decorates ``module`` so that successive calls are successive time steps.

    ``Sequencer``, ``Repeater`` wrap non-recurrent modules in a ``Recursor`` automatically.
    ``forget()`` resets every step module nested inside; ``get_state()``/``set_state()``
    delegate to them (the state of the one nested step module, or a tuple of the states of
    several, in module order; ``None`` if there are none).

    Args:
        module: any ``nn.Module``. rho: truncation of the gradients through this module's
            outputs (nested step modules also apply their own ``rho``).

    Shape:
        whatever ``module`` takes and returns, one step at a time.

    Example:
        >>> step = Recursor(nn.Sequential(FastLSTM(10, 20), nn.Linear(20, 5)))
        >>> step(torch.randn(4, 10)).shape
        torch.Size([4, 5])
    """

    def __init__(self, module: nn.Module, rho: int = 9999) -> None:
        super().__init__(rho)
        if not isinstance(module, nn.Module):
            raise TypeError(f"Recursor: expected an nn.Module, got {type(module).__name__}")
        self.module = module

    def sequence_kernel(self) -> SequenceKernel | None:
        """Whole sequences through ``module`` when it is a chain of row-wise modules and step
        modules with sequence kernels (see ``rnnkit.recurrent.row_wise``); else ``None``."""
        parts = _chain(self.module)
        if self.mask_n_input_dim is not None or parts is None:
            return None
        if not all(
            is_row_wise(p) or (isinstance(p, AbstractRecurrent) and p.sequence_kernel() is not None)
            for p in parts
        ):
            return None
        return self._run_chain

    def _run_chain(
        self, x: torch.Tensor, state: None, valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, None]:
        parts = cast(list[nn.Module], _chain(self.module))  # sequence_kernel checked it is one
        with user_errors(type(self).__name__, f"its module {type(self.module).__name__}", x[0]):
            for part in parts:
                if isinstance(part, AbstractRecurrent):
                    chunks = part.run_sequence(x)
                    if chunks is None:  # e.g. in eval() with an input that requires grad
                        chunks = [torch.stack([part(step) for step in x.unbind(0)])]
                    x = _nest.cat(chunks)
                else:
                    x = apply_to_rows(part, x)
        return x, None

    def recurrent_step(self, x: Any, state: None) -> tuple[Any, None]:
        with user_errors(type(self).__name__, f"its module {type(self.module).__name__}", x):
            return self.module(x), None

    def _nested(self) -> list[AbstractRecurrent]:
        if isinstance(self.module, AbstractRecurrent):
            return [self.module]
        return outer_recurrent_modules(self.module)

    def get_state(self) -> Any:
        return nested_state(self._nested())

    def set_state(self, state: Any) -> None:
        set_nested_state(type(self).__name__, self._nested(), state)
