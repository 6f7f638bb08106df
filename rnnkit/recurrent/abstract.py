"""AbstractRecurrent: the one state-handling mechanism shared by every step module.

Replaces the original ``nn.AbstractRecurrent`` (Element-Research/rnn). Where the
original cloned the step module once per time step to hold the activations for
backpropagation through time, rnnkit keeps the autograd graph of the steps that
may still receive gradient and nothing else:

* training mode: the carried state stays connected to the graph, so gradients flow
  back through time, at most ``rho`` steps;
* ``eval()`` mode (or under ``torch.no_grad()``): the carried state is detached after
  every step, so memory is constant in the number of steps.

``rho`` truncation has two implementations with the same result. A sequence
decorator (``Sequencer``, ``Repeater``) knows the length ``T`` of the call up front
and runs the steps ``1..T-rho`` without a graph (so they are never stored); a module
stepped by hand cannot know when the sequence ends, so each step's outputs pass
through a gate that, at backward time, lets gradient through only if the step is
among the last ``rho`` forwarded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from .. import _nest
from .._checks import expect_positive_int
from .._state import CarriedState, CarriesState, StateSpec, check_state, parameter_like
from ..masking.zero_mask import check_n_input_dim, masked_call, zero_masked, zero_rows
from .step_clock import _Steps, _TruncationGate  # _Steps: where pickles of before find it too

# kernel(x (T, N, *), state, valid (T, N) or None) -> (output (T, N, *), final_state)
SequenceKernel = Callable[[torch.Tensor, Any, "torch.Tensor | None"], tuple[Any, Any]]


class AbstractRecurrent(CarriesState):
    """Base class of step modules: successive calls are successive time steps.

    Subclasses implement :meth:`initial_state` and :meth:`recurrent_step`, and describe their
    state with :meth:`state_spec`; this class owns everything else: the ``step`` counter, the
    carried state, ``forget()``, ``get_state``/``set_state`` (checked), ``rho`` truncation,
    constant memory in evaluation, and moving the state with ``.to()``.

    Args:
        rho: maximum number of steps that gradients flow back through.

    State:
        ``get_state()`` is the state the next step starts from (``None`` right after
        ``forget()``, meaning zeros).
    """

    is_step_module = True

    def __init__(self, rho: int = 9999) -> None:
        super().__init__()
        self.rho = expect_positive_int(type(self).__name__, rho, "rho")
        self.mask_n_input_dim: int | None = None
        self.trim = False
        self._masked_nested: list[AbstractRecurrent] = []
        self._carry = CarriedState()
        self._steps = _Steps()

    # ------------------------------------------------------------------ subclass API
    def initial_state(self, x: Any) -> Any:
        """The state before the first step, for the step input ``x`` (zeros)."""
        return None

    def recurrent_step(self, x: Any, state: Any) -> tuple[Any, Any]:
        """One time step: ``(x, state) -> (output, new_state)``."""
        raise NotImplementedError

    def check_input(self, x: Any) -> None:
        """Raise ``ValueError``/``TypeError`` if ``x`` is not a valid step input."""

    def state_spec(self) -> StateSpec:
        """The form of the state (checked by ``set_state``); ``None``: any tensors."""
        return None

    @property
    def step(self) -> int:
        """The number of the next step (1 right after ``forget()``)."""
        return self._steps.step

    @property
    def sequence_cache(self) -> dict:
        """Per-sequence values (e.g. dropout masks), emptied at every forget and call boundary."""
        return self._steps.cache

    # ------------------------------------------------------------------ whole sequences
    def sequence_kernel(self) -> SequenceKernel | None:
        """A function that runs whole sequences in this module's current configuration.

        ``kernel(x (T, N, *), state, valid (T, N) float or None) -> (output (T, N, *),
        final_state)``, computing what ``T`` calls of :meth:`recurrent_step` compute (with
        ``valid``: zero output and state for the rows of padded steps). ``None`` (the
        default): ``Sequencer`` steps this module one call at a time.
        """
        return None

    def run_sequence(self, x: Any) -> list[torch.Tensor] | None:
        """``T`` steps at once: the same as calling this module on ``x[0]``, …, ``x[T-1]``.

        Returns the outputs as a list of ``(T_k, N, *)`` chunks, or ``None`` (having changed
        nothing) when the module has no sequence kernel for this call; see
        :func:`rnnkit.recurrent.whole_sequence.run_sequence`.
        """
        from .whole_sequence import run_sequence  # the mechanism lives with its kernels' users

        return run_sequence(self, x)

    # ------------------------------------------------------------------ masking
    def mask_zero(self, n_input_dim: int) -> AbstractRecurrent:
        """Treat all-zero input rows as padding, here and in every nested step module.

        Where the row of the step input (its first tensor, with ``n_input_dim`` non-batch
        dims) is all zeros, the output row is zero and the state of that row is reset, so
        the row's next non-zero step starts as if it were the first. Rows that are not zero
        are computed exactly as without masking. Returns ``self``.
        """
        return self._set_masking(n_input_dim, trim=False)

    def trim_zero(self, n_input_dim: int) -> AbstractRecurrent:
        """Same results as :meth:`mask_zero`, computing each step only on the non-zero rows."""
        return self._set_masking(n_input_dim, trim=True)

    def _set_masking(self, n_input_dim: int, trim: bool) -> AbstractRecurrent:
        n_input_dim = check_n_input_dim(type(self).__name__, n_input_dim)
        nested = list(recurrent_modules(self))[1:]
        for m in [self, *nested]:
            m._check_maskable(trim and not nested)
        self.mask_n_input_dim = n_input_dim
        self._masked_nested = nested
        # Nested step modules hold state for every row, so a container computes all rows
        # (masking) and resets the nested states of the padded rows after each step.
        self.trim = trim and not nested
        return self

    def _check_maskable(self, trim: bool) -> None:
        """Raise if this module cannot reset a row's state to its initial state."""

    # ------------------------------------------------------------------ state
    def forget(self) -> None:
        """Reset the state to zeros and ``step`` to 1, here and in nested step modules."""
        for m in recurrent_modules(self):
            m._carry.clear()
            m._steps = _Steps()

    def start_call(self, remember: bool) -> None:
        """The start of a sequence decorator's call, here and in nested step modules.

        Remembering, the carried state is detached (truncated BPTT between calls); otherwise
        the module forgets. A state given with ``set_state`` since the last step is kept
        either way, so a decoder can be started from an encoder's state.
        """
        for m in recurrent_modules(self):
            if remember:
                m._carry.detach()
                m._steps.cache.clear()
            else:
                m._carry.clear(keep_given=True)
                m._steps = _Steps()

    def get_state(self) -> Any:
        """The state the next step starts from (``None`` right after ``forget()``: zeros)."""
        return self._carry.value

    def set_state(self, state: Any) -> None:
        """Replace the state the next step starts from (``None``: zeros).

        The state stays differentiable (gradients reach whatever produced it, e.g. an
        encoder), and it survives the automatic reset a ``Sequencer`` does at the start
        of its next call, so ``decoder.set_state(encoder.get_state())`` then
        ``Sequencer(decoder)(y)`` starts the decoder from the encoder's state. It must have
        the form of :meth:`state_spec`, the dtype and device of the module's parameters.
        """
        if state is not None:
            check_state(type(self).__name__, state, self.state_spec(), parameter_like(self))
        self._carry.set(state, given=True)

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self._steps.apply(fn)
        return self

    # ------------------------------------------------------------------ stepping
    def _batch_size(self, x: Any) -> int | None:
        t = _nest.first_tensor(x)
        return None if t is None or t.dim() == 0 else t.size(0)

    def _check_carried_batch(self, x: Any, state: Any) -> None:
        s = _nest.first_tensor(state)
        n = self._batch_size(x)
        if s is not None and n is not None and s.dim() > 0 and s.size(0) != n:
            raise ValueError(
                f"{type(self).__name__}: the carried state has batch size {s.size(0)} but the "
                f"input at step {self.step} has batch size {n}; call forget() before "
                "changing the batch size"
            )

    def _in_grad_window(self) -> bool:
        steps = self._steps
        return steps.window_end is None or steps.step > steps.window_end - self.rho

    def forward(self, x: Any) -> Any:
        """One time step: the output for the step input ``x`` (``(N, D)`` for the built-in modules),
        updating the carried state (see :meth:`get_state`)."""
        self.check_input(x)
        carry, steps = self._carry, self._steps
        state = carry.value
        if state is None:
            state = self.initial_state(x)
        else:
            self._check_carried_batch(x, state)
            if steps.clock.backward_seen and not carry.given:
                # An earlier backward went through this graph (chunked training by hand):
                # start a new graph here rather than reach into the freed one.
                state = _nest.detach(state)
                steps.clock.backward_seen = False

        mask = None
        if self.mask_n_input_dim is not None:
            mask = zero_rows(type(self).__name__, x, self.mask_n_input_dim)
        with contextlib.nullcontext() if self._in_grad_window() else torch.no_grad():
            if mask is None:
                output, new_state = self.recurrent_step(x, state)
            else:
                output, new_state = masked_call(self.recurrent_step, (x, state), mask, self.trim)
                for m in self._masked_nested:
                    m._carry.value = zero_masked(m._carry.value, mask)

        keep_graph = self.training and torch.is_grad_enabled()
        if keep_graph and steps.window_end is None:
            output, new_state = self._gate(output, new_state)
        carry.set(new_state if keep_graph else _nest.detach(new_state))
        steps.step += 1
        steps.clock.count += 1
        return output

    def _gate(self, output: Any, new_state: Any) -> tuple[Any, Any]:
        tensors = _nest.flatten((output, new_state))
        grad_idx = [i for i, t in enumerate(tensors) if t.requires_grad]
        if not grad_idx:
            return output, new_state
        steps = self._steps
        gated = _TruncationGate.apply(
            steps.clock, steps.step, self.rho, *(tensors[i] for i in grad_idx)
        )
        for i, t in zip(grad_idx, gated):
            tensors[i] = t
        return _nest.unflatten((output, new_state), tensors)

    def extra_repr(self) -> str:
        parts = [f"rho={self.rho}" if self.rho != 9999 else ""]
        if self.mask_n_input_dim is not None:
            parts.append(f"{'trim' if self.trim else 'mask'}_zero={self.mask_n_input_dim}")
        return ", ".join(p for p in parts if p)


def recurrent_modules(module: nn.Module) -> Iterator[AbstractRecurrent]:
    """Every step module in ``module`` (itself included), outermost first."""
    for m in module.modules():
        if isinstance(m, AbstractRecurrent):
            yield m
