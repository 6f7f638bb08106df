"""SeqGRU: its step twin GRU(reset_after=True), torch.nn.GRU, the reference, to_gru/from_gru.

Remember modes, batch_first, return_state and bad input are covered for every fused layer
in test_seq_lstm.py; this file holds what is particular to the GRU (the original's tests
49-53).
"""

import pytest
import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

from rnnkit import GRU, SeqGRU, Sequencer

T, N, D, H = 5, 3, 4, 6
TIGHT = dict(rtol=1e-10, atol=1e-12)
PARAMS = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def _grads(module):
    return {k: p.grad.clone() for k, p in module.named_parameters()}


def test_equals_sequencer_of_to_gru_outputs_and_gradients(float64):
    seq = SeqGRU(D, H)
    step = seq.to_gru()
    assert isinstance(step, GRU) and step.reset_after
    x = torch.randn(T, N, D)
    w = torch.randn(T, N, H)
    h0 = torch.randn(N, H)

    xa, ha = x.clone().requires_grad_(), h0.clone().requires_grad_()
    out, final = seq(xa, state=ha, return_state=True)
    ((out * w).sum() + final.sum()).backward()
    xb, hb = x.clone().requires_grad_(), h0.clone().requires_grad_()
    step.set_state(hb)
    ref = Sequencer(step)(xb)
    ((ref * w).sum() + step.get_state().sum()).backward()

    assert_close(out, ref, **TIGHT)
    assert_close(final, step.get_state(), **TIGHT)
    assert_close(xa.grad, xb.grad, **TIGHT)
    assert ha.grad.abs().sum() > 0
    assert_close(ha.grad, hb.grad, **TIGHT)
    ga, gb = _grads(seq), _grads(step)
    assert sorted(ga) == sorted(PARAMS) == sorted(gb)
    for k in PARAMS:
        assert_close(ga[k], gb[k], **TIGHT)


def test_equals_reference_reset_after_not_cho(float64):
    # The fused kernel applies the reset gate after the recurrent product (cuDNN's GRU).
    seq = SeqGRU(D, H)
    x = torch.randn(T, N, D)
    weights = [getattr(seq, k) for k in PARAMS]
    out = seq(x)
    assert_close(out, eq.gru(x, *weights, reset_after=True), **TIGHT)
    assert not torch.allclose(out, eq.gru(x, *weights, reset_after=False))


def test_equals_torch_nn_gru_with_copied_weights(float64):
    seq = SeqGRU(D, H)
    ref = nn.GRU(D, H)
    with torch.no_grad():
        for k in PARAMS:
            getattr(ref, k + "_l0").copy_(getattr(seq, k))
    x = torch.randn(T, N, D)
    h0 = torch.randn(N, H)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, h = seq(xa, state=h0, return_state=True)
    rout, rh = ref(xb, h0.unsqueeze(0))
    assert_close(out, rout, **TIGHT)
    assert_close(h, rh[0], **TIGHT)
    w = torch.randn(T, N, H)
    (out * w).sum().backward()
    (rout * w).sum().backward()
    assert_close(xa.grad, xb.grad, **TIGHT)
    for k in PARAMS:
        assert_close(getattr(seq, k).grad, getattr(ref, k + "_l0").grad, **TIGHT)


def test_to_gru_copies_weights_and_masking(float64):
    seq = SeqGRU(D, H)
    step = seq.to_gru()
    for k in PARAMS:
        assert_close(getattr(step, k), getattr(seq, k), rtol=0, atol=0)
        assert getattr(step, k).data_ptr() != getattr(seq, k).data_ptr()
    assert step.mask_n_input_dim is None
    assert SeqGRU(D, H, maskzero=True).to_gru().mask_n_input_dim == 1


def test_from_gru_round_trip(float64):
    step = GRU(D, H, reset_after=True)
    seq = SeqGRU.from_gru(step, batch_first=True, maskzero=True)
    assert seq.batch_first and seq.maskzero
    x = torch.randn(T, N, D)
    assert_close(seq(x.transpose(0, 1)).transpose(0, 1), Sequencer(step)(x), **TIGHT)
    back = seq.to_gru()
    for k in PARAMS:
        assert_close(getattr(back, k), getattr(step, k), rtol=0, atol=0)
    step.weight_hh.data.add_(1.0)  # a copy, not a view
    assert not torch.equal(seq.weight_hh, step.weight_hh)


def test_from_gru_rejects_the_cho_variant():
    with pytest.raises(ValueError, match="SeqGRU.from_gru: expected a GRU with reset_after=True"):
        SeqGRU.from_gru(GRU(D, H))
    with pytest.raises(ValueError, match="SeqGRU.from_gru"):
        SeqGRU.from_gru(nn.GRU(D, H))


def test_no_h0_means_zeros(float64):
    # The original's test 50: without h0 the state starts at zero, call after call.
    seq = SeqGRU(D, H)
    x = torch.randn(T, N, D, requires_grad=True)
    for _ in range(3):
        out = seq(x)
        assert_close(out, seq(x, state=torch.zeros(N, H)), rtol=0, atol=0)
    out.sum().backward()
    assert x.grad.shape == x.shape


def test_remember_starts_from_previous_final_state(float64):
    # The original's test 51: with remember(), call t > 1 starts from the previous final h;
    # forget() restores the zero state.
    seq = SeqGRU(D, H).remember()
    assert seq.remember_mode == "both"
    x1, x2 = torch.randn(T, N, D), torch.randn(T, N, D)
    _, h1 = seq(x1, return_state=True)
    out2 = seq(x2)
    assert_close(out2, SeqGRU.from_gru(seq.to_gru())(x2, state=h1), **TIGHT)
    seq.forget()
    assert_close(seq(x2), seq(x2, state=torch.zeros(N, H)), rtol=0, atol=0)


@pytest.mark.parametrize("batch_first", [False, True])
def test_gradcheck_with_initial_state(batch_first, float64):
    seq = SeqGRU(2, 3, batch_first=batch_first)
    x = torch.randn(*((2, 3) if batch_first else (3, 2)), 2, requires_grad=True)
    h0 = torch.randn(2, 3, requires_grad=True)
    names = [k for k, _ in seq.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in seq.parameters()]

    def f(x, h0, *ps):
        return torch.func.functional_call(
            seq, dict(zip(names, ps)), (x,), {"state": h0, "return_state": True}
        )

    assert torch.autograd.gradcheck(f, (x, h0, *params))
