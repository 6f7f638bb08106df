"""RecurrentAttention: the Recurrent Attention Model loop, the original ``nn.RecurrentAttention``.

Replaces the original ``nn.RecurrentAttention`` (Element-Research/rnn), after Mnih et al.,
"Recurrent Models of Visual Attention" (2014): a location policy (``action``) picks where
to look next from the core network's last hidden state, and the core network (``rnn``)
consumes the input together with that location.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import _nest
from .._checks import expect_positive_int, named_errors
from ..recurrent.module_tree import sequence_window
from ..reinforce.reinforce import reinforce_modules
from .abstract import AbstractSequencer, refuse_remember
from .sequencer import as_step_module


def _hidden_shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (tuple, list, torch.Size)) and all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in value
    ):
        return tuple(value)
    raise ValueError(
        "RecurrentAttention: expected hidden_size to be a positive int or a tuple of "
        f"positive ints (the shape of one hidden state without the batch), got {value!r}"
    )


class RecurrentAttention(AbstractSequencer):
    """Runs the attention loop ``n_step`` times on the same input ``x``.

    ``a[1] = action(zeros(N, *hidden_size))``; for ``t = 1 .. n_step``:
    ``h[t] = rnn((x, a[t]))`` and ``a[t+1] = action(h[t])`` (not computed after the last step).

    ``rnn`` and ``action`` are step modules (wrapped in a ``Recursor`` when they are not),
    so ``rnn`` carries its state across the steps. Every forward starts a new episode: both
    are forgotten and the records of every Reinforce module inside are cleared (as in the
    original, whatever the remember mode, so only ``'neither'`` is accepted).

    ``action`` normally ends in a Reinforce module (e.g. ``ReinforceNormal``): its sampled
    locations carry no gradient, so ``action`` learns only through REINFORCE (a
    ``VRClassReward`` on the model), whose gradient also flows back through ``h[t]`` into
    ``rnn``, as the original's gradInput of the action did. The gradient w.r.t. ``x`` is
    summed over the steps.

    Args:
        rnn: step module taking ``(x, location)``, e.g. ``Recurrent`` over a glimpse network.
        action: module mapping a hidden state to a location, e.g. ``nn.Sequential(nn.Linear(H, 2),
            nn.Hardtanh(), ReinforceNormal(0.1))``.
        n_step: number of glimpses.
        hidden_size: shape of one hidden state without the batch (an int or a tuple).

    Shape:
        ``x (N, *)`` → a list of ``n_step`` hidden states ``(N, *hidden_size)``.

    Example:
        >>> from rnnkit.reinforce.normal import ReinforceNormal
        >>> from rnnkit.sequence.recurrent_attention import RecurrentAttention
        >>> class Core(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.linear = nn.Linear(10 + 2, 16)
        ...     def forward(self, x_loc):
        ...         return torch.tanh(self.linear(torch.cat(x_loc, 1)))
        >>> action = nn.Sequential(nn.Linear(16, 2), nn.Hardtanh(), ReinforceNormal(0.1))
        >>> ram = RecurrentAttention(Core(), action, n_step=4, hidden_size=16)
        >>> hs = ram(torch.randn(3, 10))
        >>> len(hs), hs[-1].shape
        (4, torch.Size([3, 16]))
    """

    def __init__(self, rnn: nn.Module, action: nn.Module, n_step: int, hidden_size: Any) -> None:
        super().__init__()
        name = type(self).__name__
        self.rnn = as_step_module(rnn, name)
        self.action = as_step_module(action, name)
        self.n_step = expect_positive_int(name, n_step, "n_step")
        self.hidden_size = _hidden_shape(hidden_size)

    def remember(self, mode: str = "both") -> RecurrentAttention:
        refuse_remember(self, mode, "every forward starts a new episode from zero state")
        return super().remember(mode)

    def set_state(self, state: Any) -> None:
        """Refused (unless ``None``): every forward starts a new episode from zero state."""
        if state is not None:
            raise ValueError(
                "RecurrentAttention: set_state is not supported; every forward starts a new "
                "episode from zero state"
            )

    def forget(self) -> None:
        """Reset ``rnn`` and ``action`` and clear the records of the Reinforce modules inside."""
        super().forget()
        for m in reinforce_modules(self):
            m.clear()

    def _first_input(self, x: Any) -> torch.Tensor:
        """Zeros ``(N, *hidden_size)``: the input of the first action."""
        first = _nest.first_tensor(x)
        if first is None or first.dim() == 0:
            raise TypeError(
                "RecurrentAttention: expected x to be a tensor (N, *) or a tuple of them, got "
                + (
                    f"a tensor of shape {tuple(first.shape)}"
                    if first is not None
                    else type(x).__name__
                )
            )
        param = next(self.action.parameters(), None)
        if param is not None and param.is_floating_point():
            dtype = param.dtype
        elif first.is_floating_point():
            dtype = first.dtype
        else:
            dtype = torch.get_default_dtype()
        return torch.zeros((first.size(0), *self.hidden_size), dtype=dtype, device=first.device)

    def forward(self, x: Any) -> list:
        """The ``n_step`` hidden states ``(N, *hidden_size)`` of one episode over ``x (N, *)``."""
        zeros = self._first_input(x)
        self.forget()
        hidden = []
        with sequence_window(self, self.n_step), named_errors(type(self).__name__):
            location = self.action(zeros)
            for t in range(self.n_step):
                h = self.rnn((x, location))
                self._check_hidden(h, zeros)
                hidden.append(h)
                if t + 1 < self.n_step:
                    location = self.action(h)
        return hidden

    def _check_hidden(self, h: Any, zeros: torch.Tensor) -> None:
        if isinstance(h, torch.Tensor) and h.shape != zeros.shape:
            raise ValueError(
                f"RecurrentAttention: expected rnn to return hidden states of shape "
                f"{tuple(zeros.shape)} (N, *hidden_size), got {tuple(h.shape)}"
            )

    def extra_repr(self) -> str:
        return f"n_step={self.n_step}, hidden_size={self.hidden_size}"
