"""LSTM with peepholes (Graves 2013): reference equations, gradients, state."""

import torch
from reference import equations as eq
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=1e-10, atol=1e-12)
T, N, D, H = 4, 3, 5, 6
PARAMS = ("weight_ih", "weight_hh", "bias", "weight_ci", "weight_cf", "weight_co")


def leaf_params(module):
    return {n: p.detach().clone().requires_grad_() for n, p in module.named_parameters()}


def reference(x, p):
    return eq.peephole_lstm(x, *(p[n] for n in PARAMS))


def test_parameters_have_the_documented_shapes():
    lstm = rnnkit.LSTM(D, H)
    shapes = {n: tuple(p.shape) for n, p in lstm.named_parameters()}
    assert shapes == {
        "weight_ih": (4 * H, D), "weight_hh": (4 * H, H), "bias": (4 * H,),
        "weight_ci": (H,), "weight_cf": (H,), "weight_co": (H,),
    }  # fmt: skip


def test_sequencer_matches_reference_outputs_and_grads(float64):
    lstm = rnnkit.LSTM(D, H)
    with torch.no_grad():  # large peepholes, so that peeping at the wrong cell shows
        for n in ("weight_ci", "weight_cf", "weight_co"):
            getattr(lstm, n).uniform_(-2, 2)
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    out = rnnkit.Sequencer(lstm)(x)
    out.backward(g)

    p = leaf_params(lstm)
    xr = x.detach().clone().requires_grad_()
    ref = reference(xr, p)
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    for name, param in lstm.named_parameters():
        assert_close(param.grad, p[name].grad, **TOL, msg=name)


def test_zero_peepholes_equal_fast_lstm(float64):
    lstm = rnnkit.LSTM(D, H)
    with torch.no_grad():
        for n in ("weight_ci", "weight_cf", "weight_co"):
            getattr(lstm, n).zero_()
    fast = rnnkit.FastLSTM(D, H)
    with torch.no_grad():
        fast.weight_ih.copy_(lstm.weight_ih)
        fast.weight_hh.copy_(lstm.weight_hh)
        fast.bias_ih.copy_(lstm.bias)
        fast.bias_hh.zero_()
    x = torch.randn(T, N, D)
    assert_close(rnnkit.Sequencer(lstm)(x), rnnkit.Sequencer(fast)(x), **TOL)


def test_stepping_by_hand_equals_sequencer(float64):
    lstm = rnnkit.LSTM(D, H)
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(lstm)(x)
    lstm.forget()
    assert lstm.get_state() is None
    steps = [lstm(x[t]) for t in range(T)]
    assert_close(torch.stack(steps), expected, **TOL)
    h, c = lstm.get_state()
    assert_close(h, expected[-1], **TOL)
    assert c.shape == (N, H)
