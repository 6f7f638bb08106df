"""Recurrent (the original's first RNN): reference, start module, custom merge, state."""

import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=1e-10, atol=1e-12)
T, N, D, H = 4, 3, 5, 6


class Mul(nn.Module):
    """A custom merge: element-wise product."""

    def forward(self, a, b):
        return a * b


def make_rnn(d=D, h=H):
    return rnnkit.Recurrent(h, nn.Linear(d, h), nn.Linear(h, h), nn.Sigmoid)


def test_default_matches_reference_outputs_and_grads(float64):
    rnn = rnnkit.Recurrent(H, nn.Linear(D, H), nn.Linear(H, H))  # transfer defaults to Sigmoid
    assert isinstance(rnn.start, rnnkit.Bias) and rnn.start.bias.shape == (H,)
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    out = rnnkit.Sequencer(rnn)(x)
    out.backward(g)
    originals = (rnn.input.weight, rnn.input.bias, rnn.feedback.weight, rnn.feedback.bias,
                 rnn.start.bias)  # fmt: skip
    p = [t.detach().clone().requires_grad_() for t in originals]
    xr = x.detach().clone().requires_grad_()
    ref = eq.simple_rnn(xr, *p[:4], start_bias=p[4], activation=torch.sigmoid)
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    for param, mine in zip(originals, p):
        assert_close(param.grad, mine.grad, **TOL)


def test_start_module_custom_merge_and_transfer_follow_the_definition(float64):
    start, inp, fb = nn.Linear(H, H), nn.Linear(D, H), nn.Linear(H, H)
    rnn = rnnkit.Recurrent(start, inp, fb, nn.Tanh(), merge=Mul())
    x = torch.randn(T, N, D)
    out = rnnkit.Sequencer(rnn)(x)
    h = torch.tanh(start(inp(x[0])))
    expected = [h]
    for t in range(1, T):
        h = torch.tanh(inp(x[t]) * fb(h))
        expected.append(h)
    assert_close(out, torch.stack(expected), **TOL)


def test_start_as_a_shape_is_a_learned_bias(float64):
    rnn = rnnkit.Recurrent((H,), nn.Linear(D, H), nn.Linear(H, H), nn.Tanh)
    x = torch.randn(1, N, D)
    out = rnnkit.Sequencer(rnn)(x)
    assert_close(out[0], torch.tanh(rnn.input(x[0]) + rnn.start.bias), **TOL)


def test_stepping_by_hand_equals_sequencer(float64):
    rnn = make_rnn()
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(rnn)(x)
    rnn.forget()
    assert rnn.get_state() is None
    steps = [rnn(x[t]) for t in range(T)]
    assert_close(torch.stack(steps), expected, **TOL)
    assert_close(rnn.get_state(), expected[-1], **TOL)
    rnn.forget()  # after forget() the next step uses start again
    assert_close(rnn(x[0]), expected[0], **TOL)
