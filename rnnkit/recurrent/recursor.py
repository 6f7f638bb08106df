"""Recursor: makes any module a step module, the original ``nn.Recursor``.

Each call is one time step with shared parameters. The original needed one clone of the
module per step to keep the activations; here autograd keeps them. Step modules nested
inside ``module`` keep their own state and step in sync with the ``Recursor``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .abstract import AbstractRecurrent, outer_recurrent_modules


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

    def recurrent_step(self, x, state):
        return self.module(x), None

    def _nested(self) -> list[AbstractRecurrent]:
        if isinstance(self.module, AbstractRecurrent):
            return [self.module]
        return outer_recurrent_modules(self.module)

    def get_state(self) -> Any:
        states = [m.get_state() for m in self._nested()]
        if not states:
            return None
        return states[0] if len(states) == 1 else tuple(states)

    def set_state(self, state: Any) -> None:
        nested = self._nested()
        if len(nested) == 1:
            nested[0].set_state(state)
            return
        if not isinstance(state, (tuple, list)) or len(state) != len(nested):
            raise ValueError(
                f"Recursor: expected a tuple of {len(nested)} states (one per nested step "
                f"module), got {type(state).__name__}"
            )
        for m, s in zip(nested, state):
            m.set_state(s)
