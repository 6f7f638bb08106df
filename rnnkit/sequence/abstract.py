"""AbstractSequencer: remember modes and forgetting, shared by the sequence modules.

The original's ``nn.AbstractSequencer``: a sequence module either starts every call from
zero state (``'neither'``, the default) or carries the state of the previous call over
(detached: truncated BPTT), in training, evaluation or both.

The state itself lives in one kind of holder (``rnnkit._state.CarriedState``): in the step
modules a ``Sequencer`` drives, or in the whole-sequence module itself (the fused layers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from .._state import CarriedState, CarriesState, StateSpec, check_state, parameter_like
from ..recurrent.module_tree import nested_state, outer_recurrent_modules, set_nested_state

if TYPE_CHECKING:
    from typing_extensions import Self

REMEMBER_MODES = ("neither", "both", "train", "eval")


class AbstractSequencer(CarriesState):
    """Base class of the modules that take whole sequences and may carry state between calls.

    ``get_state()`` is the state the next call starts from — the state of the step modules
    inside (one, or a tuple of several), or the module's own for a whole-sequence layer;
    ``set_state(state)`` replaces it, checked, and the next call starts from it whatever the
    remember mode (an encoder's final state starting a decoder).
    """

    def __init__(self) -> None:
        super().__init__()
        self.remember_mode = "neither"
        # The state of a module that runs whole sequences itself (fused layers); step
        # modules inside keep their own.
        self._carry = CarriedState()

    def remember(self, mode: str = "both") -> Self:
        """Carry state over between calls: ``'both'``, ``'train'``, ``'eval'`` or ``'neither'``."""
        if mode not in REMEMBER_MODES:
            raise ValueError(
                f"{type(self).__name__}: expected remember mode to be one of "
                f"{', '.join(repr(m) for m in REMEMBER_MODES)}, got {mode!r}"
            )
        self.remember_mode = mode
        return self

    def remembers(self) -> bool:
        """Whether the state carries over into the next call in the current mode."""
        wanted = "train" if self.training else "eval"
        return self.remember_mode in ("both", wanted)

    def forget(self) -> None:
        """Reset every state inside to zeros."""
        for m in self.modules():
            if isinstance(m, AbstractSequencer):
                m._carry.clear()
        for m in outer_recurrent_modules(self):
            m.forget()

    def begin_call(self) -> None:
        """Called at the start of each forward: detach the carried state, or forget it.

        A state given with ``set_state`` since the last call is kept either way.
        """
        remember = self.remembers()
        if remember:
            self._carry.detach()
        else:
            self._carry.clear(keep_given=True)
        for m in outer_recurrent_modules(self):
            m.start_call(remember)

    # ------------------------------------------------------------------ state
    def state_spec(self) -> StateSpec:
        """The form of this module's own state (whole-sequence layers); ``None``: any tensors."""
        return None

    def get_state(self) -> Any:
        """The state the next call starts from (``None``: zeros); see the class docstring."""
        nested = outer_recurrent_modules(self)
        return nested_state(nested) if nested else self._carry.value

    def set_state(self, state: Any) -> None:
        """Start the next call from ``state`` (checked; ``None``: zeros), the form of :meth:`get_state`."""
        nested = outer_recurrent_modules(self)
        name = type(self).__name__
        if nested:
            set_nested_state(name, nested, state)
            return
        if state is not None:
            check_state(name, state, self.state_spec(), parameter_like(self))
        self._carry.set(state, given=True)

    def train(self, mode: bool = True) -> Self:
        """Switch training/evaluation mode; a switch forgets the carried state (as the original)."""
        # As in the original, switching between training and evaluation forgets the state.
        if mode != self.training:
            self.forget()
        return super().train(mode)

    def extra_repr(self) -> str:
        return f"remember={self.remember_mode!r}" if self.remember_mode != "neither" else ""


def refuse_remember(module: nn.Module, mode: str, why: str) -> None:
    """For sequence modules whose every call starts from zero state."""
    if mode != "neither":
        raise ValueError(f"{type(module).__name__}: remember({mode!r}) is not supported; {why}")
