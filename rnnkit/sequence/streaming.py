"""Streaming: a module's carried state as an explicit input and output, for exported graphs.

A sequence module carries its state between calls inside itself (``remember()``,
``get_state``/``set_state``). An exported graph (``torch.export``, ONNX) has no such memory:
what it carries must be an input and an output. ``Streaming(module)(x, state)`` returns
``(output, final_state)``, and leaves the wrapped module's own state as it was, so the same
call runs eagerly, compiled, or exported with a dynamic sequence length::

    stream = Streaming(SeqLSTM(10, 20)).eval()
    state = stream.zero_state(batch_size=4)
    for chunk in chunks:                       # each (T_k, 4, 10), any T_k
        y, state = stream(chunk, state)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._checks import named_errors
from .._state import CarriedState, StateSpec, TensorSpec, describe_spec, parameter_like
from ..recurrent.abstract import AbstractRecurrent
from ..recurrent.module_tree import outer_recurrent_modules
from .abstract import AbstractSequencer


def _state_spec(module: nn.Module) -> StateSpec:
    """The form of ``module.get_state()``: the nested step modules' specs, or its own."""
    if isinstance(module, AbstractSequencer):
        nested = outer_recurrent_modules(module)
        if nested:
            specs = tuple(m.state_spec() for m in nested)
            return specs[0] if len(specs) == 1 else specs
    return module.state_spec()  # type: ignore[operator]  # Streaming checked it has one


def _zeros(spec: StateSpec, batch_size: int, like: torch.Tensor | None) -> Any:
    if isinstance(spec, TensorSpec):
        kw: dict[str, Any] = {} if like is None else dict(dtype=like.dtype, device=like.device)
        return torch.zeros(batch_size, *spec.shape, **kw)
    return tuple(_zeros(s, batch_size, like) for s in spec)


def _known(spec: StateSpec) -> bool:
    if spec is None:
        return False
    if isinstance(spec, TensorSpec):
        return all(s is not None for s in spec.shape)
    return all(_known(s) for s in spec)


class Streaming(nn.Module):
    """``module`` run as a function of its state: ``(input, state) -> (output, final_state)``.

    ``Streaming(m)(x, state)`` computes ``m.set_state(state); y = m(x)`` and returns
    ``(y, m.get_state())``; ``m``'s own carried state (and step counters) are restored
    afterwards, whatever its remember mode. ``state=None`` starts from the module's initial
    state (zeros). Export it to get a graph with the state as inputs and outputs.

    Args:
        module: any module with ``get_state``/``set_state``: a sequence module (``SeqLSTM``,
            ``Sequencer``, …), a step module, or a ``LanguageModel``.

    Shape:
        ``input`` and ``output`` as the module's; ``state`` in the form of ``m.get_state()``
        (``(h, c)`` ``(N, H)`` each for an LSTM; a tuple of one per layer for a model).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(module, nn.Module) or not all(
            callable(getattr(module, a, None)) for a in ("get_state", "set_state")
        ):
            raise TypeError(
                f"{name}: expected a module that carries state (with get_state and set_state), "
                f"got {type(module).__name__}"
            )
        self.module = module

    def forward(self, input: Any, state: Any = None) -> tuple[Any, Any]:
        """``(output, final_state)`` of the module on ``input`` from ``state``."""
        holders: list[CarriedState] = [
            m._carry  # type: ignore[misc]  # checked by the isinstance
            for m in self.module.modules()
            if isinstance(getattr(m, "_carry", None), CarriedState)
        ]
        carried = [(h.value, h.given) for h in holders]
        # A call may replace a step module's step counter (forgetting) or clear its cache.
        steps = [
            (m, m._steps, m._steps.step, m._steps.clock.count, dict(m._steps.cache))
            for m in self.module.modules()
            if isinstance(m, AbstractRecurrent)
        ]
        try:
            with named_errors(type(self).__name__):
                self.module.set_state(state)  # type: ignore[operator]  # checked in __init__
                output = self.module(input)
                final = self.module.get_state()  # type: ignore[operator]
        finally:
            for h, (value, given) in zip(holders, carried):
                h.value, h.given = value, given
            for m, counter, step, count, cache in steps:
                m._steps = counter
                counter.step, counter.clock.count, counter.cache = step, count, cache
        return output, final

    def zero_state(self, batch_size: int) -> Any:
        """Zeros in the form of the state, for ``batch_size`` rows (the first call's state)."""
        name = type(self).__name__
        has_spec = callable(getattr(self.module, "state_spec", None))
        spec = _state_spec(self.module) if has_spec else None
        if not _known(spec):
            raise ValueError(
                f"{name}: the state of {type(self.module).__name__} has no fixed shape "
                f"({describe_spec(spec)}); pass the first state yourself"
            )
        return _zeros(spec, batch_size, parameter_like(self.module))
