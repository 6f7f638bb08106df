"""Recursor: any module as a step module, nesting, state delegation."""

import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=1e-10, atol=1e-12)
T, N, D, H = 4, 3, 5, 6


def nested_lstm():
    return rnnkit.Recursor(rnnkit.Recursor(nn.Sequential(rnnkit.FastLSTM(D, H))))


def test_recursor_linear_equals_linear_per_step(float64):
    lin = nn.Linear(D, H)
    x = torch.randn(T, N, D, requires_grad=True)
    xr = x.detach().clone().requires_grad_()
    g = torch.randn(T, N, H)
    seq = rnnkit.Sequencer(rnnkit.Recursor(lin))
    out = seq(x)
    out.backward(g)
    w = lin.weight.detach().clone().requires_grad_()
    b = lin.bias.detach().clone().requires_grad_()
    ref = torch.stack([xr[t] @ w.t() + b for t in range(T)])
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    assert_close(lin.weight.grad, w.grad, **TOL)
    assert_close(lin.bias.grad, b.grad, **TOL)


def test_sequencer_wraps_plain_modules_in_a_recursor(float64):
    lin = nn.Linear(D, H)
    seq = rnnkit.Sequencer(lin)
    assert isinstance(seq.module, rnnkit.Recursor) and seq.module.module is lin
    x = torch.randn(T, N, D)
    assert_close(seq(x), lin(x), **TOL)
    assert seq.module.get_state() is None


def test_nested_recursors_equal_fast_lstm(float64):
    rec = nested_lstm()
    inner = rec.module.module[0]
    fast = rnnkit.FastLSTM(D, H)
    fast.load_state_dict(inner.state_dict())
    x = torch.randn(T, N, D, requires_grad=True)
    xf = x.detach().clone().requires_grad_()
    g = torch.randn(T, N, H)
    out, expected = rnnkit.Sequencer(rec)(x), rnnkit.Sequencer(fast)(xf)
    assert_close(out, expected, **TOL)
    (out * g).sum().backward()
    (expected * g).sum().backward()
    assert_close(x.grad, xf.grad, **TOL)
    for (name, mine), theirs in zip(inner.named_parameters(), fast.parameters()):
        assert_close(mine.grad, theirs.grad, **TOL, msg=name)
    # get_state delegates through both Recursors to the FastLSTM
    for mine, theirs in zip(rec.get_state(), fast.get_state()):
        assert_close(mine, theirs, **TOL)
    # and the reference agrees too
    p = [t.detach() for t in (fast.weight_ih, fast.weight_hh, fast.bias_ih, fast.bias_hh)]
    assert_close(out, eq.lstm(x.detach(), *p), **TOL)


def test_forget_and_set_state_reach_the_nested_step_module(float64):
    rec = nested_lstm()
    inner = rec.module.module[0]
    x = torch.randn(T, N, D)
    for t in range(T):
        rec(x[t])
    assert inner.step == T + 1 and inner.get_state() is not None
    rec.forget()
    assert inner.step == 1 and inner.get_state() is None and rec.get_state() is None

    h0, c0 = torch.randn(N, H), torch.randn(N, H)
    rec.set_state((h0, c0))
    assert inner.get_state()[0] is h0
    fast = rnnkit.FastLSTM(D, H)
    fast.load_state_dict(inner.state_dict())
    fast.set_state((h0, c0))
    assert_close(rnnkit.Sequencer(rec)(x), rnnkit.Sequencer(fast)(x), **TOL)


def test_stepping_by_hand_equals_sequencer(float64):
    rec = rnnkit.Recursor(nn.Sequential(rnnkit.FastLSTM(D, H), nn.Linear(H, 2)))
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(rec)(x)
    rec.forget()
    steps = [rec(x[t]) for t in range(T)]
    assert rec.step == T + 1
    assert_close(torch.stack(steps), expected, **TOL)
