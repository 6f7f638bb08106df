"""Helpers for the sequence-kernel tests: a module and its stepping twin, run side by side."""

from __future__ import annotations

import copy

import torch
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=0, atol=1e-12)


def twins(module):
    """``(module, its stepping copy, calls)``: same weights; ``calls`` records, per
    ``sequence_kernel()`` call of ``module``, whether it gave a kernel."""
    slow = copy.deepcopy(module)
    slow.sequence_kernel = lambda: None  # the step path
    calls: list[bool] = []
    declared = module.sequence_kernel

    def spied():
        kernel = declared()
        calls.append(kernel is not None)
        return kernel

    module.sequence_kernel = spied
    return module, slow, calls


def run_calls(module, inputs, remember=None, backward=True):
    """``Sequencer(module)`` on each input in turn; outputs and every gradient (float64)."""
    torch.manual_seed(11)  # the same dropout draws for both twins
    seq = rnnkit.Sequencer(module)
    if remember is not None:
        seq.remember(remember)
    leaves = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    outs = [seq(x) for x in inputs]
    if not backward:
        return outs, []
    gen = torch.Generator().manual_seed(7)
    flat = [o for out in outs for o in (out if isinstance(out, list) else [out])]
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in flat)
    params = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, leaves + params, allow_unused=True)
    return outs, list(grads)


def assert_same_run(fast, slow, inputs, remember=None, expect_kernel=True, calls=None):
    """Both modules give the same outputs, gradients, final state and step counter."""
    out_f, grad_f = run_calls(fast, [_copy(x) for x in inputs], remember)
    out_s, grad_s = run_calls(slow, [_copy(x) for x in inputs], remember)
    assert_close(out_f, out_s, **TOL)
    assert len(grad_f) == len(grad_s)
    for gf, gs in zip(grad_f, grad_s):
        assert (gf is None) == (gs is None)
        if gf is not None:
            assert_close(gf, gs, **TOL)
    assert_close(fast.get_state(), slow.get_state(), **TOL)
    assert fast.step == slow.step
    if calls is not None:
        assert calls and all(calls) == expect_kernel, calls


def _copy(x):
    """The same input, a leaf of its own for each run (a list of steps stays a list)."""
    if isinstance(x, list):
        return [s.detach().clone() for s in x]
    return x.detach().clone().requires_grad_(x.requires_grad)


def padded_steps(T: int, N: int, D: int, dtype=torch.float64) -> torch.Tensor:
    """``(T, N, D)`` input with all-zero rows scattered anywhere, first and last steps too."""
    x = torch.randn(T, N, D, dtype=dtype)
    x[0, 0] = 0
    x[2, 1] = 0
    x[3, 1] = 0
    x[T - 1, N - 1] = 0
    return x
