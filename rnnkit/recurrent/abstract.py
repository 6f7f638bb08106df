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
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import _nest
from .._checks import expect_positive_int
from ..masking.zero_mask import check_n_input_dim, masked_call, zero_masked, zero_rows


class _Clock:
    """Counts the steps forwarded since the last ``forget()``; read by the gates at backward."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class _TruncationGate(torch.autograd.Function):
    """Identity whose backward is cut once the step falls more than ``rho`` steps behind."""

    @staticmethod
    def forward(ctx, clock: _Clock, step: int, rho: int, *tensors):
        ctx.clock, ctx.step, ctx.rho = clock, step, rho
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        if ctx.step > ctx.clock.count - ctx.rho:
            return (None, None, None, *grads)
        return (None, None, None) + (None,) * len(grads)


class AbstractRecurrent(nn.Module):
    """Base class of step modules: successive calls are successive time steps.

    Subclasses implement :meth:`initial_state` and :meth:`recurrent_step`; this class
    owns everything else: the ``step`` counter, the carried state, ``forget()``,
    ``get_state``/``set_state``, ``rho`` truncation, constant memory in evaluation,
    and moving the state with ``.to()``.

    Args:
        rho: maximum number of steps that gradients flow back through.

    State:
        ``get_state()`` is the state the next step starts from (``None`` right after
        ``forget()``, meaning zeros).
    """

    def __init__(self, rho: int = 9999) -> None:
        super().__init__()
        self.rho = expect_positive_int(type(self).__name__, rho, "rho")
        self._user_state_pending = False
        self.mask_n_input_dim: int | None = None
        self.trim = False
        self._masked_nested: list[AbstractRecurrent] = []
        self._reset()

    # ------------------------------------------------------------------ subclass API
    def initial_state(self, x: Any) -> Any:
        """The state before the first step, for the step input ``x`` (zeros)."""
        return None

    def recurrent_step(self, x: Any, state: Any) -> tuple[Any, Any]:
        """One time step: ``(x, state) -> (output, new_state)``."""
        raise NotImplementedError

    def check_input(self, x: Any) -> None:
        """Raise ``ValueError``/``TypeError`` if ``x`` is not a valid step input."""

    # ------------------------------------------------------------------ input projections
    def input_projection_params(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """``(weight, bias)`` of an input-to-hidden product that depends on the step input alone.

        A ``Sequencer`` given a whole tensor then computes it for every step in one matrix
        product (``prepare_inputs``) and the steps pick their slice: the same values from
        one large product instead of ``T`` small ones. ``None``: no such product.
        """
        return None

    def prepare_inputs(self, x: torch.Tensor, steps: list) -> None:
        """Precompute the input projections of the coming steps ``steps`` (the slices of ``x (T, N, D)``)."""
        params = self.input_projection_params()
        if params is None:
            return
        weight, bias = params
        if not (
            x.dim() == 3 and x.size(2) == weight.size(1) and x.dtype == weight.dtype
            and x.device == weight.device and len(steps) == x.size(0)
        ):  # fmt: skip
            return  # the steps' own checks will report what is wrong
        projections = F.linear(x, weight, bias).unbind(0)  # T x (N, G)
        self._sequence_cache["inputs"] = {id(s): (s, p) for s, p in zip(steps, projections)}

    def projected_input(self, x: Any) -> torch.Tensor | None:
        """The precomputed projection of the step input ``x``, if ``prepare_inputs`` made one."""
        entry = self._sequence_cache.get("inputs", {}).get(id(x))
        return entry[1] if entry is not None and entry[0] is x else None

    def _trimmed_step(self, x: Any, mask: torch.Tensor):
        """``recurrent_step`` for the kept rows of ``x``, reusing their precomputed projection."""
        projected = self.projected_input(x)
        if projected is None or not bool(mask.any()) or bool(mask.all()):
            return self.recurrent_step
        keep = (~mask).nonzero().squeeze(1)  # the rows masked_call keeps

        def step(x_kept, state_kept):
            cache = self._sequence_cache["inputs"]
            cache[id(x_kept)] = (x_kept, projected.index_select(0, keep))
            try:
                return self.recurrent_step(x_kept, state_kept)
            finally:
                del cache[id(x_kept)]

        return step

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
        check_n_input_dim(type(self).__name__, n_input_dim)
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
    def _reset(self, keep_user_state: bool = False) -> None:
        user_state = self._state if keep_user_state and self._user_state_pending else None
        self.step = 1
        self._state = user_state
        self._user_state_pending = user_state is not None
        self._clock = _Clock()
        self._window_end: int | None = None
        # Per-sequence randomness (variational dropout masks) lives here.
        self._sequence_cache: dict = {}

    def forget(self) -> None:
        """Reset the state to zeros and ``step`` to 1, here and in nested step modules."""
        for m in recurrent_modules(self):
            m._reset()

    def get_state(self) -> Any:
        return self._state

    def set_state(self, state: Any) -> None:
        """Replace the state the next step starts from.

        The state stays differentiable (gradients reach whatever produced it, e.g. an
        encoder), and it survives the automatic reset a ``Sequencer`` does at the start
        of its next call, so ``decoder.set_state(encoder.get_state())`` then
        ``Sequencer(decoder)(y)`` starts the decoder from the encoder's state.
        """
        self._state = state
        self._user_state_pending = state is not None

    def detach_state(self) -> None:
        """Cut the graph behind the carried state (truncated BPTT between calls)."""
        for m in recurrent_modules(self):
            if not m._user_state_pending:
                m._state = _nest.detach(m._state)
            m._sequence_cache.clear()

    def __getstate__(self):
        # Copies and pickles take the state without its graph (deepcopy refuses non-leaf
        # tensors), e.g. to keep the best model during training.
        state = super().__getstate__()
        state["_state"] = _nest.detach(state["_state"])
        state["_sequence_cache"] = {}
        return state

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self._state = _nest.map_tensors(fn, self._state)
        self._sequence_cache.clear()
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
        return self._window_end is None or self.step > self._window_end - self.rho

    def forward(self, x: Any) -> Any:
        self.check_input(x)
        state = self._state
        if state is None:
            state = self.initial_state(x)
        else:
            self._check_carried_batch(x, state)

        mask = None
        if self.mask_n_input_dim is not None:
            mask = zero_rows(type(self).__name__, x, self.mask_n_input_dim)
        with contextlib.nullcontext() if self._in_grad_window() else torch.no_grad():
            if mask is None:
                output, new_state = self.recurrent_step(x, state)
            else:
                step = self._trimmed_step(x, mask) if self.trim else self.recurrent_step
                output, new_state = masked_call(step, (x, state), mask, self.trim)
                for m in self._masked_nested:
                    m._state = zero_masked(m._state, mask)

        keep_graph = self.training and torch.is_grad_enabled()
        if keep_graph and self._window_end is None:
            output, new_state = self._gate(output, new_state)
        self._state = new_state if keep_graph else _nest.detach(new_state)
        self._user_state_pending = False
        self.step += 1
        self._clock.count += 1
        return output

    def _gate(self, output: Any, new_state: Any) -> tuple[Any, Any]:
        tensors = _nest.flatten((output, new_state))
        grad_idx = [i for i, t in enumerate(tensors) if t.requires_grad]
        if not grad_idx:
            return output, new_state
        gated = _TruncationGate.apply(
            self._clock, self.step, self.rho, *(tensors[i] for i in grad_idx)
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


def outer_recurrent_modules(module: nn.Module) -> list[AbstractRecurrent]:
    """The step modules inside ``module`` that are not nested in another step module."""
    found: list[AbstractRecurrent] = []

    def visit(m: nn.Module) -> None:
        for child in m.children():
            if isinstance(child, AbstractRecurrent):
                found.append(child)
            else:
                visit(child)

    visit(module)
    return found


@contextlib.contextmanager
def sequence_window(module: nn.Module, n_steps: int):
    """Tell every step module in ``module`` that the next ``n_steps`` calls are one sequence.

    Inside the window each step module runs the steps older than its ``rho`` (counted
    from the end of the window) without building a graph, which both truncates the
    gradient and keeps training memory bounded by ``rho``.
    """
    modules = list(recurrent_modules(module))
    for m in modules:
        m._window_end = m.step - 1 + n_steps
    try:
        yield
    finally:
        for m in modules:
            m._window_end = None
            m._sequence_cache.pop("inputs", None)
