"""AbstractSequencer: remember modes and forgetting, shared by the sequence decorators.

The original's ``nn.AbstractSequencer``: a sequence module either starts every call from
zero state (``'neither'``, the default) or carries the state of the previous call over
(detached: truncated BPTT), in training, evaluation or both.
"""

from __future__ import annotations

from torch import nn

from ..recurrent.abstract import recurrent_modules

REMEMBER_MODES = ("neither", "both", "train", "eval")


class AbstractSequencer(nn.Module):
    """Base class of the modules that take whole sequences and may carry state between calls."""

    def __init__(self) -> None:
        super().__init__()
        self.remember_mode = "neither"
        # State a whole-sequence module carries into its next call (step modules inside
        # keep their own); detached, since BPTT is truncated between calls.
        self._carried = None

    def remember(self, mode: str = "both") -> AbstractSequencer:
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
        """Reset the state of every step module inside to zeros."""
        for m in recurrent_modules(self):
            m._reset()
        for m in self.modules():
            if isinstance(m, AbstractSequencer):
                m._carried = None

    def carried_state(self):
        """The state a whole-sequence module will start its next call from (``None``: zeros)."""
        return None if self._carried is None else [t.clone() for t in self._carried]

    def set_carried_state(self, state) -> None:
        """Restore what :meth:`carried_state` returned (e.g. when resuming from a checkpoint)."""
        self._carried = None if state is None else [t.detach().clone() for t in state]

    def begin_call(self) -> None:
        """Called at the start of each forward: forget, or detach the carried state.

        A state given with ``set_state`` since the last step is kept either way, so a
        decoder can be started from an encoder's state.
        """
        if self.remembers():
            for m in recurrent_modules(self):
                m.detach_state()
        else:
            for m in recurrent_modules(self):
                m._reset(keep_user_state=True)
            self._carried = None

    def train(self, mode: bool = True):
        # As in the original, switching between training and evaluation forgets the state.
        if mode != self.training:
            self.forget()
        return super().train(mode)

    def extra_repr(self) -> str:
        return f"remember={self.remember_mode!r}" if self.remember_mode != "neither" else ""
