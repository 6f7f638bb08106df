"""Repeater: the same input fed n_step times to a step module."""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import GRU, FastLSTM, Recursor, Repeater

N, D, H, S = 3, 4, 4, 5


def test_equals_feeding_the_input_by_hand():
    lstm = FastLSTM(D, H)
    rep = Repeater(lstm, S)
    x = torch.randn(N, D)
    out = rep(x)
    assert isinstance(out, torch.Tensor)
    assert out.shape == (S, N, H)
    lstm.forget()
    by_hand = torch.stack([lstm(x) for _ in range(S)])
    assert_close(out, by_hand)
    assert not torch.allclose(out[0], out[1])  # the state really is carried


def test_each_call_starts_from_zero():
    rep = Repeater(GRU(D, H), S)
    x = torch.randn(N, D)
    assert_close(rep(x), rep(x))


def test_input_gradient_is_the_sum_of_per_step_gradients():
    lstm = FastLSTM(D, H)
    twin = copy.deepcopy(lstm)
    w = torch.randn(S, N, H)
    x = torch.randn(N, D, requires_grad=True)
    (Repeater(lstm, S)(x) * w).sum().backward()

    xs = [x.detach().clone().requires_grad_() for _ in range(S)]
    twin.forget()
    sum((twin(xt) * w[t]).sum() for t, xt in enumerate(xs)).backward()
    assert_close(x.grad, sum(xt.grad for xt in xs))
    for p, q in zip(lstm.parameters(), twin.parameters()):
        assert_close(p.grad, q.grad)


def test_sequential_with_identity_equals_bare_module():
    lstm = FastLSTM(D, H)
    x = torch.randn(N, D, requires_grad=True)
    a = Repeater(lstm, S)(x)
    a.sum().backward()
    ga, gx = lstm.weight_hh.grad.clone(), x.grad.clone()
    lstm.zero_grad()
    x.grad = None

    b = Repeater(nn.Sequential(nn.Identity(), lstm), S)(x)
    b.sum().backward()
    assert_close(b, a)
    assert_close(lstm.weight_hh.grad, ga)
    assert_close(x.grad, gx)


def test_non_recurrent_module_is_wrapped():
    lin = nn.Linear(D, H)
    rep = Repeater(lin, S)
    assert isinstance(rep.module, Recursor)
    x = torch.randn(N, D)
    assert_close(rep(x), lin(x).expand(S, N, H))


def test_tuple_step_outputs_give_a_list():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = FastLSTM(D, H)

        def forward(self, x):
            h = self.lstm(x)
            return h, -h

    out = Repeater(Pair(), S)(torch.randn(N, D))
    assert isinstance(out, list) and len(out) == S
    for h, g in out:
        assert_close(g, -h)


def test_respects_rho():
    lstm = FastLSTM(D, H, rho=2)
    ref = copy.deepcopy(lstm)
    ref.rho = 9999
    x = torch.randn(N, D, requires_grad=True)
    Repeater(lstm, S)(x).sum().backward()

    xr = x.detach().clone().requires_grad_()
    with torch.no_grad():
        for _ in range(S - 2):
            ref(xr)
    (ref(xr) + ref(xr)).sum().backward()
    assert_close(x.grad, xr.grad)
    for p, q in zip(lstm.parameters(), ref.parameters()):
        assert_close(p.grad, q.grad)


def test_n_step_must_be_positive():
    with pytest.raises(ValueError, match=r"Repeater.*n_step.*positive.*0"):
        Repeater(FastLSTM(D, H), 0)


def test_forget_resets_the_module():
    lstm = FastLSTM(D, H)
    rep = Repeater(lstm, S)
    rep(torch.randn(N, D))
    rep.forget()
    assert lstm.get_state() is None and lstm.step == 1
