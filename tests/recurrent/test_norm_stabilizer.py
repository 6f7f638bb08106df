"""NormStabilizer: identity forward, penalty gradient in backward, the penalty function.

No gradcheck here: the backward is deliberately *not* the derivative of the (identity)
forward; it adds the gradient of the norm-stabilisation penalty. The tests instead compare
it with autograd of ``loss + penalty`` computed by the reference on the same hidden states.
"""

import pytest
import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=1e-10, atol=1e-12)
T, N, D, H = 5, 3, 4, 6
LSTM_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def test_forward_is_identity_when_stepping():
    stab = rnnkit.NormStabilizer(beta=2.0)
    hs = torch.randn(T, N, H, requires_grad=True)
    for t in range(T):
        assert torch.equal(stab(hs[t]), hs[t])
    assert torch.equal(stab.get_state(), hs[-1])


def test_forward_is_identity_in_a_sequencer(float64):
    lstm = rnnkit.FastLSTM(D, H)
    x = torch.randn(T, N, D)
    with_stab = rnnkit.Sequencer(nn.Sequential(lstm, rnnkit.NormStabilizer(5.0)))(x)
    # Sequencer(lstm) takes the precomputed-input-projection path: equal up to rounding.
    torch.testing.assert_close(with_stab, rnnkit.Sequencer(lstm)(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("beta", [1.0, 3.5])
def test_gradient_is_autograd_of_loss_plus_penalty(float64, beta):
    lstm = rnnkit.FastLSTM(D, H)
    seq = rnnkit.Sequencer(nn.Sequential(lstm, rnnkit.NormStabilizer(beta)))
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    out = seq(x)
    (out * g).sum().backward()

    p = {n: getattr(lstm, n).detach().clone().requires_grad_() for n in LSTM_PARAMS}
    xr = x.detach().clone().requires_grad_()
    hs = eq.lstm(xr, *(p[n] for n in LSTM_PARAMS))
    assert_close(out, hs, **TOL)
    plain_grad = torch.autograd.grad((hs * g).sum(), xr, retain_graph=True)[0]
    ((hs * g).sum() + eq.norm_stabilizer_penalty(hs, beta)).backward()
    assert_close(x.grad, xr.grad, **TOL)
    for n in LSTM_PARAMS:
        assert_close(getattr(lstm, n).grad, p[n].grad, **TOL, msg=n)
    assert not torch.allclose(x.grad, plain_grad, atol=1e-4)  # the penalty is visible


def test_gradient_on_given_hidden_states_and_step_one_has_no_pair(float64):
    # Directly on leaf hidden states: grad = g + d penalty / d h, for every step.
    beta = 0.7
    hs = torch.randn(T, N, H, requires_grad=True)
    g = torch.randn(T, N, H)
    out = rnnkit.Sequencer(rnnkit.NormStabilizer(beta))(hs)
    assert torch.equal(out, hs)
    (out * g).sum().backward()
    hr = hs.detach().clone().requires_grad_()
    ((hr * g).sum() + eq.norm_stabilizer_penalty(hr, beta)).backward()
    assert_close(hs.grad, hr.grad, **TOL)

    one = torch.randn(1, N, H, requires_grad=True)  # a single step: no penalty at all
    (rnnkit.Sequencer(rnnkit.NormStabilizer(beta))(one) * g[:1]).sum().backward()
    assert_close(one.grad, g[:1], **TOL)


def test_stepping_by_hand_gives_the_sequencer_gradient(float64):
    beta = 1.3
    hs = torch.randn(T, N, H, requires_grad=True)
    g = torch.randn(T, N, H)
    stab = rnnkit.NormStabilizer(beta)
    stab.forget()
    by_hand = torch.stack([stab(hs[t]) for t in range(T)])
    (by_hand * g).sum().backward()
    hr = hs.detach().clone().requires_grad_()
    (rnnkit.Sequencer(rnnkit.NormStabilizer(beta))(hr) * g).sum().backward()
    assert_close(hs.grad, hr.grad, **TOL)
    assert not torch.allclose(hs.grad, g, atol=1e-4)


def test_zero_beta_leaves_the_gradient_unchanged(float64):
    hs = torch.randn(T, N, H, requires_grad=True)
    g = torch.randn(T, N, H)
    (rnnkit.Sequencer(rnnkit.NormStabilizer(0.0))(hs) * g).sum().backward()
    assert_close(hs.grad, g, **TOL)


@pytest.mark.parametrize("beta", [1.0, 0.25])
def test_penalty_function_matches_reference(float64, beta):
    hs = torch.randn(T, N, H, requires_grad=True)
    hr = hs.detach().clone().requires_grad_()
    mine = rnnkit.norm_stabilizer_penalty(hs, beta)
    ref = eq.norm_stabilizer_penalty(hr, beta)
    assert_close(mine, ref, **TOL)
    mine.backward()
    ref.backward()
    assert_close(hs.grad, hr.grad, **TOL)
    # averaged over the batch, summed (not averaged) over time
    doubled = torch.cat([hs.detach(), hs.detach()[-1:].expand(T, N, H)])
    assert_close(rnnkit.norm_stabilizer_penalty(doubled, beta), ref.detach(), **TOL)
