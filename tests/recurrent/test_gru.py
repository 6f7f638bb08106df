"""GRU: both candidate variants against the reference, variational dropout, state."""

import pytest
import torch
from reference import equations as eq
from torch import nn
from torch.autograd import gradcheck
from torch.func import functional_call
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=1e-10, atol=1e-12)
T, N, D, H = 4, 3, 5, 6
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def leaf_params(module):
    return {n: p.detach().clone().requires_grad_() for n, p in module.named_parameters()}


@pytest.mark.parametrize("reset_after", [False, True])
def test_sequencer_matches_reference_outputs_and_grads(float64, reset_after):
    gru = rnnkit.GRU(D, H, reset_after=reset_after)
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    out = rnnkit.Sequencer(gru)(x)
    out.backward(g)

    p = leaf_params(gru)
    xr = x.detach().clone().requires_grad_()
    ref = eq.gru(xr, *(p[n] for n in PARAMS), reset_after=reset_after)
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    for name, param in gru.named_parameters():
        assert_close(param.grad, p[name].grad, **TOL, msg=name)
    other = eq.gru(x.detach(), *(p[n].detach() for n in PARAMS), reset_after=not reset_after)
    assert not torch.allclose(out, other, atol=1e-4)  # the two variants are distinguishable


def test_reset_after_equals_torch_nn_gru(float64):
    gru = rnnkit.GRU(D, H, reset_after=True)
    torch_gru = nn.GRU(D, H)
    with torch.no_grad():
        for name in PARAMS:
            getattr(torch_gru, name + "_l0").copy_(getattr(gru, name))
    x = torch.randn(T, N, D)
    expected, h_n = torch_gru(x)
    assert_close(rnnkit.Sequencer(gru)(x), expected, **TOL)
    assert_close(gru.get_state(), h_n[0], **TOL)


def test_gradcheck_through_dropout_masks(float64):
    seq = rnnkit.Sequencer(rnnkit.GRU(3, 4, p=0.3))
    x = torch.randn(3, 2, 3, requires_grad=True)
    w = seq.module.weight_ih.detach().clone().requires_grad_()

    def f(x, w):
        torch.manual_seed(7)  # the same masks at every evaluation
        return functional_call(seq, {"module.weight_ih": w}, (x,))

    assert gradcheck(f, (x, w))


def test_stepping_by_hand_equals_sequencer(float64):
    gru = rnnkit.GRU(D, H)
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(gru)(x)
    gru.forget()
    assert gru.get_state() is None
    steps = [gru(x[t]) for t in range(T)]
    assert_close(torch.stack(steps), expected, **TOL)
    assert_close(gru.get_state(), expected[-1], **TOL)


# ---------------------------------------------------------------- variational dropout


def test_dropout_is_stochastic_in_training():
    gru = rnnkit.GRU(D, H, p=0.5)
    seq = rnnkit.Sequencer(gru)
    x = torch.randn(T, N, D)
    assert not torch.allclose(seq(x), seq(x))
    gru.forget()
    first = torch.stack([gru(x[t]) for t in range(T)])
    gru.forget()
    second = torch.stack([gru(x[t]) for t in range(T)])
    assert not torch.allclose(first, second)


def test_dropout_eval_is_deterministic_and_equals_no_dropout(float64):
    gru = rnnkit.GRU(D, H, p=0.5)
    plain = rnnkit.GRU(D, H, p=0.0)
    plain.load_state_dict(gru.state_dict())
    seq, plain_seq = rnnkit.Sequencer(gru).eval(), rnnkit.Sequencer(plain)
    x = torch.randn(T, N, D)
    out = seq(x)
    assert torch.equal(out, seq(x))
    assert_close(out, plain_seq(x), **TOL)
    assert_close(out, plain_seq.eval()(x), **TOL)


@pytest.mark.parametrize("mono", [False, True])
def test_dropout_uses_the_same_masks_at_every_step(float64, mono):
    p = 0.4
    gru = rnnkit.GRU(D, H, p=p, mono=mono)
    x = torch.randn(T, N, D)
    gru.forget()
    outs = [gru(x[0])]
    x_mask, h_mask = gru.sequence_cache["dropout"]
    rows = 1 if mono else N
    assert x_mask.shape == (3, rows, D) and h_mask.shape == (3, rows, H)
    kept = {0.0, 1.0 / (1.0 - p)}
    assert set(x_mask.unique().tolist()) <= kept and set(h_mask.unique().tolist()) <= kept
    saved = (x_mask.clone(), h_mask.clone())
    for t in range(1, T):
        outs.append(gru(x[t]))
        now = gru.sequence_cache["dropout"]
        assert torch.equal(now[0], saved[0]) and torch.equal(now[1], saved[1])
    params = [getattr(gru, n).detach() for n in PARAMS]
    ref = eq.gru(x, *params, x_masks=saved[0], h_masks=saved[1])
    assert_close(torch.stack(outs), ref, **TOL)

    seq_out = rnnkit.Sequencer(gru)(x)  # a Sequencer call: one new draw for the whole call
    xm, hm = gru.sequence_cache["dropout"]
    assert_close(seq_out, eq.gru(x, *params, x_masks=xm, h_masks=hm), **TOL)


def test_mono_shares_one_mask_row_across_the_batch():
    x = torch.randn(T, 1, D).expand(T, N, D).contiguous()  # N identical sequences
    mono = rnnkit.Sequencer(rnnkit.GRU(D, H, p=0.5, mono=True))(x)
    assert_close(mono, mono[:, :1].expand_as(mono))
    per_row = rnnkit.Sequencer(rnnkit.GRU(D, H, p=0.5, mono=False))(x)
    assert not torch.allclose(per_row, per_row[:, :1].expand_as(per_row))
