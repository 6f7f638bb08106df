"""Issue 15: MuFuRu's whole-sequence Function against stepping ``mufuru_step`` with autograd,
in float64: outputs and the gradients of the input, the initial state and every weight."""

import pytest
import torch
from torch.autograd import gradcheck
from torch.testing import assert_close

import rnnkit
from rnnkit.cells.mufuru import MUFURU_OPS, mufuru_step
from rnnkit.kernels.mufuru import mufuru_sequence

from .kernel_twins import assert_same_run, twins

T, N, D, H = 5, 3, 4, 3
NAMES = ("xr", "sr", "v", "p")
SUBSETS = [
    tuple(MUFURU_OPS),
    tuple(reversed(MUFURU_OPS)),
    ("keep", "forget"),
    ("forget",),
    ("keep",),
    ("replace",),
    ("max", "min"),
    ("sqrt_diff", "mul", "diff"),
    ("replace", "keep"),
]


def _weights(ops, tie=False):
    torch.manual_seed(3)
    cell = rnnkit.MuFuRu(D, H, ops=ops).double()
    if tie:  # v = σ(0) = 0.5 at every step: with s0 = 0.5, max/min tie on every unit
        with torch.no_grad():
            cell.weight_v.zero_(), cell.bias_v.zero_()
    return [getattr(cell, f"{k}_{n}") for n in NAMES for k in ("weight", "bias")]


def _stepping(x, s, ops, weights, valid):
    outs = []
    for t in range(x.size(0)):
        s = mufuru_step(x[t], s, ops, *weights)
        if valid is not None:
            s = s.masked_fill((valid[t] == 0).unsqueeze(1), 0)
        outs.append(s)
    return torch.stack(outs), s


def _run(fn, ops, weights, x, s0, valid):
    x = x.detach().clone().requires_grad_()
    s0 = s0.detach().clone().requires_grad_()
    out, last = fn(x, s0, ops, weights, valid)
    gen = torch.Generator().manual_seed(5)
    weight = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)
    loss = (out * weight).sum() + last.sum()
    grads = torch.autograd.grad(loss, [x, s0, *weights], allow_unused=True)
    return [out, last], list(grads)


def _kernel(x, s, ops, weights, valid):
    return mufuru_sequence(x, s, ops, *weights, valid=valid)


def _assert_same(ops, tie=False, valid=None, equal_nan=False, steps=T):
    weights = _weights(ops, tie)
    x = torch.randn(steps, N, D, dtype=torch.float64)
    s0 = torch.full((N, H), 0.5, dtype=torch.float64) if tie else torch.randn(N, H).double()
    out_k, grad_k = _run(_kernel, ops, weights, x, s0, valid)
    out_s, grad_s = _run(_stepping, ops, weights, x, s0, valid)
    assert_close(out_k, out_s, rtol=0, atol=1e-12)
    for gk, gs in zip(grad_k, grad_s):
        assert (gk is None) == (gs is None)
        if gk is not None:
            assert_close(gk, gs, rtol=0, atol=1e-12, equal_nan=equal_nan)
    return grad_k


@pytest.mark.parametrize("ops", SUBSETS, ids="-".join)
def test_function_equals_stepping(ops):
    grads = _assert_same(ops)
    if set(ops) <= {"keep", "forget"}:  # r and v unused: no gradient, as when stepping
        assert all(g is None for g in grads[2:8]) and grads[8] is not None


@pytest.mark.parametrize("ops", [("max", "min"), tuple(MUFURU_OPS)[::2], ("keep", "max")])
def test_ties_split_the_gradient_as_autograd(ops):
    # One step: after it s is 0.5 only up to rounding, which may differ between the paths
    # and decide a near-tie differently (the slope jumps there).
    _assert_same(ops, tie=True, steps=1)


def test_sqrt_diff_at_s_equal_v_is_nan_on_both_paths():
    grads = _assert_same(("keep", "sqrt_diff"), tie=True, equal_nan=True, steps=1)
    assert grads[1].isnan().any()


@pytest.mark.parametrize("ops", [tuple(MUFURU_OPS), ("keep", "forget"), ("replace",)], ids="-".join)
def test_valid_resets_padded_rows(ops):
    valid = torch.ones(T, N, dtype=torch.float64)
    valid[0, 0] = valid[2, 1] = valid[3, 1] = valid[T - 1, N - 1] = 0
    _assert_same(ops, valid=valid)


@pytest.mark.parametrize("ops", [("max", "min", "keep"), ("forget", "keep"), ("sqrt_diff",)])
def test_sequencer_carries_state_across_calls_with_rho(ops):
    torch.manual_seed(0)
    fast, slow, calls = twins(rnnkit.MuFuRu(D, H, ops=ops, rho=3).double())
    xs = [torch.randn(T, N, D, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    assert_same_run(fast, slow, xs, remember="both", calls=calls)


def test_gradcheck_all_ops():
    weights = [w.detach().requires_grad_() for w in _weights(tuple(MUFURU_OPS))]
    x = torch.randn(3, 2, D, dtype=torch.float64, requires_grad=True)
    s = torch.randn(2, H, dtype=torch.float64, requires_grad=True)  # far from v: d ≠ 0
    valid = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    ops = tuple(MUFURU_OPS)
    assert gradcheck(lambda x, s, *w: mufuru_sequence(x, s, ops, *w, valid=valid), (x, s, *weights))


def test_float32_close_to_float64():
    weights = _weights(tuple(MUFURU_OPS))
    x, s0 = torch.randn(T, N, D, dtype=torch.float64), torch.randn(N, H, dtype=torch.float64)
    ops = tuple(MUFURU_OPS)
    out64, grad64 = _run(_kernel, ops, weights, x, s0, None)
    w32 = [w.detach().float().requires_grad_() for w in weights]
    out32, grad32 = _run(_kernel, ops, w32, x.float(), s0.float(), None)
    assert_close([o.double() for o in out32], out64, rtol=1e-4, atol=1e-5)
    assert_close([g.double() for g in grad32], grad64, rtol=1e-3, atol=1e-4)
