"""Running a step module over a whole sequence in one call of its sequence kernel.

``Sequencer``, ``Repeater`` and ``BiSequencer`` call :func:`run_sequence` first and step the
module one call at a time only when it returns ``None``. Whatever path is taken, the module
ends in the same place: the carried state, ``step``, ``rho`` truncation, remember modes,
masks with state reset and dropout masks are those of ``T`` single steps.

Per call (not per step): the input is checked once, the state is taken from the holder once
and stored back once. In ``eval()`` (or under ``torch.no_grad()``) no graph is kept unless the
input itself requires gradients, so evaluating a long sequence needs the output's memory
and a few steps' workspace, not a graph of every step.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from .. import _nest, _seqio
from ..kernels.scan import exporting, scan_steps
from ..masking.zero_mask import zero_rows
from .abstract import AbstractRecurrent


def sequence_valid(module: str, x: torch.Tensor, n_input_dim: int) -> torch.Tensor:
    """``(T, N)`` bool: which rows of each step of ``x (T, N, *)`` are not padding."""
    zero_rows(module, x[0], n_input_dim)  # the shape and dtype checks of one step
    if n_input_dim == 0:
        return x != 0
    return (x.flatten(2) != 0).any(2)


def _grad_window_start(module: AbstractRecurrent, T: int) -> int:
    """How many leading steps of this call fall outside the module's ``rho`` window."""
    steps = module._steps
    end = steps.window_end if steps.window_end is not None else steps.step - 1 + T
    first_in_window = end - module.rho + 1  # steps numbered from ``steps.step``
    return min(T, max(0, first_in_window - steps.step))


def run_sequence(module: AbstractRecurrent, x: Any) -> list[torch.Tensor] | None:
    """``module(x[0])``, …, ``module(x[T-1])`` in kernel calls; ``None`` if it has no kernel.

    ``x`` is a ``(T, N, *)`` tensor or a list of ``T`` tensors ``(N, *)`` of one shape; the result is the step outputs as one or two ``(T_k, N, *)``
    chunks: the steps outside the ``rho`` window (computed without a graph), then the others.
    """
    if exporting() and scannable(module):
        return _run_scanned(module, x)
    kernel = module.sequence_kernel()
    if kernel is None or len(x) == 0:
        return None
    keep_graph = module.training and torch.is_grad_enabled()
    if not module.training and torch.is_grad_enabled() and _nest.requires_grad(x):
        return None  # a gradient w.r.t. the input in eval(): the step path gives it
    module.check_input(x[0])
    carry, steps = module._carry, module._steps
    state = carry.value
    if state is None:
        state = module.initial_state(x[0])
    else:
        module._check_carried_batch(x[0], state)
        if steps.clock.backward_seen and not carry.given:
            state = _nest.detach(state)  # see AbstractRecurrent.forward
            steps.clock.backward_seen = False
    T = len(x)
    outside = _grad_window_start(module, T) if keep_graph else T
    outputs = []
    for start, stop, graph in ((0, outside, False), (outside, T, keep_graph)):
        if start == stop:
            continue
        with contextlib.nullcontext() if graph else torch.no_grad():
            part = _seqio.steps_of(x, start, stop)
            valid = None
            if module.mask_n_input_dim is not None:
                valid = sequence_valid(type(module).__name__, part, module.mask_n_input_dim)
            out, state = kernel(part, state, valid)
        outputs.append(out)
        if not graph:
            state = _nest.detach(state)
    carry.set(state if keep_graph else _nest.detach(state))
    steps.step += T
    steps.clock.count += T
    return outputs


def scannable(module: nn.Module) -> bool:
    """Whether ``recurrent_step`` is pure: no step module inside carries state of its own.

    ``trim_zero`` is scanned as ``mask_zero`` (the two agree exactly in ``eval()``).
    """
    nested = any(isinstance(m, AbstractRecurrent) for m in module.modules() if m is not module)
    return not nested


def _run_scanned(module: AbstractRecurrent, x: Any) -> list[torch.Tensor]:
    """Under ``torch.export``: every step of ``x`` as one ``scan`` of ``recurrent_step``.

    The exported graph keeps the sequence length dynamic. Export traces an ``eval()`` module
    once, so the step counter is not advanced and no ``rho`` window applies.
    """
    x = x if isinstance(x, torch.Tensor) else torch.stack(list(x))
    module.check_input(x[0])
    state = module._carry.value
    if state is None:
        state = module.initial_state(x[0])
    valid = None
    if module.mask_n_input_dim is not None:
        valid = sequence_valid(type(module).__name__, x, module.mask_n_input_dim)
    out, state = scan_steps(lambda x_t, s: module.recurrent_step(x_t, s), state, x, valid)
    module._carry.set(state)
    return [out]
