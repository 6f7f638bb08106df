"""Recurrence: y[t] = module(x[t], y[t-1]) against hand loops, an LSTM built with it, state."""

import pytest
import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=1e-10, atol=1e-12)
T, N, D, H = 4, 3, 5, 6


class LSTMStep(nn.Module):
    """One LSTM step as an ordinary module: (x, (h, c)) -> (h', c'), gates [i, f, g, o]."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.i2g = nn.Linear(input_size, 4 * hidden_size)
        self.h2g = nn.Linear(hidden_size, 4 * hidden_size)

    def forward(self, x, state):
        h, c = state
        i, f, g, o = (self.i2g(x) + self.h2g(h)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


def rnn_step(d=D, h=H):
    return rnnkit.ParallelTable(
        nn.Linear(d, h), nn.Linear(h, h), merge=nn.Sequential(rnnkit.CAddTable(), nn.Tanh())
    )


def test_simple_rnn_matches_reference_outputs_and_grads(float64):
    rec = rnnkit.Recurrence(rnn_step(), H, 1)
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    out = rnnkit.Sequencer(rec)(x)
    out.backward(g)
    lin_x, lin_h = rec.module.branches
    p = [t.detach().clone().requires_grad_() for t in
         (lin_x.weight, lin_x.bias, lin_h.weight, lin_h.bias)]  # fmt: skip
    xr = x.detach().clone().requires_grad_()
    ref = eq.simple_rnn(xr, *p)
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    for param, mine in zip((lin_x.weight, lin_x.bias, lin_h.weight, lin_h.bias), p):
        assert_close(param.grad, mine.grad, **TOL)


def test_equals_a_hand_written_loop(float64):
    step = rnn_step()
    rec = rnnkit.Recurrence(step, torch.Size([H]), 1)
    x = torch.randn(T, N, D)
    y = torch.zeros(N, H)
    expected = []
    for t in range(T):
        y = step(x[t], y)
        expected.append(y)
    assert_close(rnnkit.Sequencer(rec)(x), torch.stack(expected), **TOL)


def test_lstm_built_with_recurrence_equals_fast_lstm(float64):
    fast = rnnkit.FastLSTM(D, H)
    step = LSTMStep(D, H)
    with torch.no_grad():
        step.i2g.weight.copy_(fast.weight_ih)
        step.i2g.bias.copy_(fast.bias_ih)
        step.h2g.weight.copy_(fast.weight_hh)
        step.h2g.bias.copy_(fast.bias_hh)
    rec = rnnkit.Recurrence(step, ((H,), (H,)), 1)
    seq = rnnkit.Sequencer(nn.Sequential(rec, rnnkit.SelectTable(0)))
    x = torch.randn(T, N, D, requires_grad=True)
    xf = x.detach().clone().requires_grad_()
    g = torch.randn(T, N, H)
    out, expected = seq(x), rnnkit.Sequencer(fast)(xf)
    assert_close(out, expected, **TOL)
    out.backward(g)
    expected.backward(g)
    assert_close(x.grad, xf.grad, **TOL)
    assert_close(step.h2g.weight.grad, fast.weight_hh.grad, **TOL)
    assert_close(step.i2g.bias.grad, fast.bias_ih.grad, **TOL)
    for mine, theirs in zip(rec.get_state(), fast.get_state()):
        assert_close(mine, theirs, **TOL)


@pytest.mark.parametrize("size", [H, (H,), torch.Size([H]), [H]])
def test_output_size_forms_give_zero_initial_state(float64, size):
    step = rnn_step()
    rec = rnnkit.Recurrence(step, size, 1)
    x = torch.randn(N, D)
    assert_close(rec(x), step(x, torch.zeros(N, H)), **TOL)


def test_index_input_with_n_input_dim_zero(float64):
    emb = nn.Embedding(10, H)
    lin = nn.Linear(H, H)
    step = rnnkit.ParallelTable(emb, lin, merge=nn.Sequential(rnnkit.CAddTable(), nn.Sigmoid()))
    idx = torch.randint(0, 10, (T, N))
    out = rnnkit.Sequencer(rnnkit.Recurrence(step, H, 0))(idx)
    assert out.dtype == torch.float64
    y, expected = torch.zeros(N, H), []
    for t in range(T):
        y = torch.sigmoid(emb(idx[t]) + lin(y))
        expected.append(y)
    assert_close(out, torch.stack(expected), **TOL)


def test_single_sample_without_batch_dim(float64):
    step = rnnkit.ParallelTable(
        nn.Linear(D, H), nn.Linear(H, H), merge=nn.Sequential(rnnkit.CAddTable(), nn.Tanh())
    )
    rec = rnnkit.Recurrence(step, H, 1)
    x = torch.randn(T, 1, D)
    batched = rnnkit.Sequencer(rec)(x)
    rec.forget()
    single = torch.stack([rec(x[t, 0]) for t in range(T)])
    assert single.shape == (T, H)
    assert_close(single, batched[:, 0], **TOL)


def test_stepping_by_hand_equals_sequencer(float64):
    rec = rnnkit.Recurrence(LSTMStep(D, H), ((H,), (H,)), 1)
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(nn.Sequential(rec, rnnkit.SelectTable(0)))(x)
    rec.forget()
    assert rec.get_state() is None
    steps = [rec(x[t]) for t in range(T)]
    assert all(isinstance(s, tuple) and len(s) == 2 for s in steps)
    assert_close(torch.stack([h for h, _ in steps]), expected, **TOL)
    assert_close(rec.get_state()[0], expected[-1], **TOL)
