"""LSTM with peepholes (Graves 2013): reference equations, gradients, state."""

import io

import pytest
import torch
from reference import equations as eq
from torch.autograd import gradcheck
from torch.func import functional_call
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


def test_gradcheck_input_and_peephole_parameters(float64):
    seq = rnnkit.Sequencer(rnnkit.LSTM(3, 4))
    x = torch.randn(3, 2, 3, requires_grad=True)
    names = ["module.weight_co", "module.weight_ci", "module.weight_hh"]
    params = dict(seq.named_parameters())
    ps = [params[n].detach().clone().requires_grad_() for n in names]

    def f(x, *ps):
        return functional_call(seq, dict(zip(names, ps)), (x,))

    assert gradcheck(f, (x, *ps))


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


def test_state_dict_round_trip_reproduces_outputs():
    lstm = rnnkit.LSTM(D, H)
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(lstm)(x)
    buf = io.BytesIO()
    torch.save(lstm.state_dict(), buf)
    buf.seek(0)
    fresh = rnnkit.LSTM(D, H)
    assert not torch.allclose(rnnkit.Sequencer(fresh)(x), expected)
    fresh.load_state_dict(torch.load(buf))
    assert torch.equal(rnnkit.Sequencer(fresh)(x), expected)


@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.to(torch.float64)])
def test_dtype_conversion_moves_the_carried_state(convert):
    lstm = rnnkit.LSTM(D, H)
    x = torch.randn(T, N, D)
    for t in range(2):
        lstm(x[t])
    h32, c32 = lstm.get_state()
    convert(lstm)
    h, c = lstm.get_state()
    assert h.dtype == torch.float64 and c.dtype == torch.float64
    assert_close(c, c32.double())
    assert lstm(x[2].double()).dtype == torch.float64
