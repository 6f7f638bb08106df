"""SeqRNN (alias VanillaRNN): a plain-torch tanh loop, torch.nn.RNN, gradcheck, layouts.

Remember modes, return_state and bad input are covered for every fused layer in
test_seq_lstm.py; masking in test_seq_masking.py.
"""

import pytest
import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

from rnnkit import SeqRNN, VanillaRNN

T, N, D, H = 5, 3, 4, 6
TIGHT = dict(rtol=1e-10, atol=1e-12)
PARAMS = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def rnn_loop(x, weight_ih, weight_hh, bias_ih, bias_hh, h):
    """h[t] = tanh(W_ih x[t] + b_ih + W_hh h[t-1] + b_hh)."""
    outs = []
    for t in range(x.size(0)):
        h = torch.tanh(x[t] @ weight_ih.t() + bias_ih + h @ weight_hh.t() + bias_hh)
        outs.append(h)
    return torch.stack(outs), h


def test_vanilla_rnn_is_seq_rnn():
    assert VanillaRNN is SeqRNN
    rnn = VanillaRNN(D, H)
    assert [k for k, _ in rnn.named_parameters()] == PARAMS
    assert rnn.weight_ih.shape == (H, D) and rnn.weight_hh.shape == (H, H)


def test_equals_plain_loop_outputs_and_gradients(float64):
    rnn = SeqRNN(D, H)
    x = torch.randn(T, N, D)
    h0 = torch.randn(N, H)
    w = torch.randn(T, N, H)
    xa, ha = x.clone().requires_grad_(), h0.clone().requires_grad_()
    out, final = rnn(xa, state=ha, return_state=True)
    ((out * w).sum() + final.sum()).backward()

    params = [getattr(rnn, k).detach().clone().requires_grad_() for k in PARAMS]
    xb, hb = x.clone().requires_grad_(), h0.clone().requires_grad_()
    ref, rfinal = rnn_loop(xb, *params, hb)
    ((ref * w).sum() + rfinal.sum()).backward()

    assert_close(out, ref, **TIGHT)
    assert_close(final, rfinal, **TIGHT)
    assert_close(xa.grad, xb.grad, **TIGHT)
    assert_close(ha.grad, hb.grad, **TIGHT)
    for k, p in zip(PARAMS, params):
        assert_close(getattr(rnn, k).grad, p.grad, **TIGHT)


def test_equals_reference_equations_from_zero_state(float64):
    rnn = SeqRNN(D, H)
    x = torch.randn(T, N, D)
    ref = eq.simple_rnn(x, rnn.weight_ih, rnn.bias_ih, rnn.weight_hh, rnn.bias_hh)
    assert_close(rnn(x), ref, **TIGHT)


def test_equals_torch_nn_rnn_with_copied_weights(float64):
    rnn = SeqRNN(D, H)
    ref = nn.RNN(D, H)
    with torch.no_grad():
        for k in PARAMS:
            getattr(ref, k + "_l0").copy_(getattr(rnn, k))
    x = torch.randn(T, N, D)
    h0 = torch.randn(N, H)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, h = rnn(xa, state=h0, return_state=True)
    rout, rh = ref(xb, h0.unsqueeze(0))
    assert_close(out, rout, **TIGHT)
    assert_close(h, rh[0], **TIGHT)
    w = torch.randn(T, N, H)
    (out * w).sum().backward()
    (rout * w).sum().backward()
    assert_close(xa.grad, xb.grad, **TIGHT)
    for k in PARAMS:
        assert_close(getattr(rnn, k).grad, getattr(ref, k + "_l0").grad, **TIGHT)


def test_torch_rnn_layout_is_batch_first(float64):
    # torch-rnn's VanillaRNN takes (N, T, D): here that is batch_first=True.
    tm = SeqRNN(D, H)
    bf = VanillaRNN(D, H, batch_first=True)
    bf.load_state_dict(tm.state_dict())
    x = torch.randn(N, T, D)
    h0 = torch.randn(N, H)
    out = bf(x, state=h0)
    assert out.shape == (N, T, H)
    assert_close(out, tm(x.transpose(0, 1), state=h0).transpose(0, 1), **TIGHT)


def test_initial_state_changes_output(float64):
    rnn = SeqRNN(D, H)
    x = torch.randn(T, N, D)
    assert not torch.allclose(rnn(x, state=torch.randn(N, H)), rnn(x))
    assert_close(rnn(x, state=torch.zeros(N, H)), rnn(x), rtol=0, atol=0)


def test_maskzero_is_keyword_only():
    assert SeqRNN(D, H, maskzero=True).maskzero
    with pytest.raises(TypeError):
        SeqRNN(D, H, False, True)


@pytest.mark.parametrize("batch_first", [False, True])
def test_gradcheck_with_initial_state(batch_first, float64):
    rnn = SeqRNN(2, 3, batch_first=batch_first)
    x = torch.randn(*((2, 3) if batch_first else (3, 2)), 2, requires_grad=True)
    h0 = torch.randn(2, 3, requires_grad=True)
    names = [k for k, _ in rnn.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in rnn.parameters()]

    def f(x, h0, *ps):
        return torch.func.functional_call(
            rnn, dict(zip(names, ps)), (x,), {"state": h0, "return_state": True}
        )

    assert torch.autograd.gradcheck(f, (x, h0, *params))
