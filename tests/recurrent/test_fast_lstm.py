"""FastLSTM: the reference equations, torch.nn.LSTM parity, recurrent batch norm, state."""

import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

import rnnkit

TOL = dict(rtol=1e-10, atol=1e-12)
T, N, D, H = 4, 3, 5, 6


def leaf_params(module):
    return {n: p.detach().clone().requires_grad_() for n, p in module.named_parameters()}


def run_and_backward(seq, x, g):
    out = seq(x)
    out.backward(g)
    return out


def test_sequencer_matches_reference_outputs_and_grads(float64):
    lstm = rnnkit.FastLSTM(D, H)
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    out = run_and_backward(rnnkit.Sequencer(lstm), x, g)

    p = leaf_params(lstm)
    xr = x.detach().clone().requires_grad_()
    ref = eq.lstm(xr, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    for name, param in lstm.named_parameters():
        assert_close(param.grad, p[name].grad, **TOL, msg=name)


def test_equals_torch_nn_lstm_with_copied_weights(float64):
    lstm = rnnkit.FastLSTM(D, H)
    torch_lstm = nn.LSTM(D, H)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(torch_lstm, name + "_l0").copy_(getattr(lstm, name))
    x = torch.randn(T, N, D)
    expected, (h_n, c_n) = torch_lstm(x)
    seq = rnnkit.Sequencer(lstm)
    assert_close(seq(x), expected, **TOL)
    h, c = lstm.get_state()
    assert_close(h, h_n[0], **TOL)
    assert_close(c, c_n[0], **TOL)


def test_stepping_by_hand_equals_sequencer(float64):
    lstm = rnnkit.FastLSTM(D, H)
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(lstm)(x)
    lstm.forget()
    assert lstm.get_state() is None and lstm.step == 1
    steps = [lstm(x[t]) for t in range(T)]
    assert lstm.step == T + 1
    assert_close(torch.stack(steps), expected, **TOL)


# ---------------------------------------------------------------- recurrent batch norm


def bn_dict(bn):
    return {
        "weight": bn.weight.detach().clone().requires_grad_(),
        "bias": bn.bias.detach().clone().requires_grad_(),
        "running_mean": bn.running_mean.clone(),
        "running_var": bn.running_var.clone(),
    }


def test_batchnorm_builds_three_batchnorm_modules_with_scale_point_one():
    lstm = rnnkit.FastLSTM(D, H, batchnorm=True, eps=0.05, momentum=0.2)
    bns = [m for m in lstm.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 3
    assert sorted(bn.num_features for bn in bns) == [H, 4 * H, 4 * H]
    for bn in bns:
        assert torch.all(bn.weight == 0.1)
        assert bn.eps == 0.05 and bn.momentum == 0.2
    no_affine = rnnkit.FastLSTM(D, H, batchnorm=True, affine=False)
    assert all(m.weight is None for m in no_affine.modules() if isinstance(m, nn.BatchNorm1d))
    assert rnnkit.Sequencer(no_affine)(torch.randn(T, N, D)).shape == (T, N, H)


def test_batchnorm_trains_and_matches_cooijmans_reference(float64):
    lstm = rnnkit.FastLSTM(D, H, batchnorm=True)
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    p = leaf_params(lstm)
    bns = {k: bn_dict(getattr(lstm, k)) for k in ("bn_ih", "bn_hh", "bn_c")}
    out = run_and_backward(rnnkit.Sequencer(lstm), x, g)

    xr = x.detach().clone().requires_grad_()
    ref = eq.bn_lstm(
        xr, p["weight_ih"], p["weight_hh"], p["bias"], bns["bn_ih"], bns["bn_hh"],
        bns["bn_c"], eps=0.1, training=True, momentum=0.1,
    )  # fmt: skip
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    for name, param in lstm.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        if name.startswith("bn_"):
            module, attr = name.split(".")
            expected_grad = bns[module][attr].grad
        else:
            expected_grad = p[name].grad
        assert_close(param.grad, expected_grad, **TOL, msg=name)
    for k, stats in bns.items():  # running statistics: one update per step, shared by steps
        bn = getattr(lstm, k)
        assert bn.num_batches_tracked.item() == T
        assert_close(bn.running_mean, stats["running_mean"], **TOL)
        assert_close(bn.running_var, stats["running_var"], **TOL)


def test_batchnorm_eval_uses_running_statistics(float64):
    lstm = rnnkit.FastLSTM(D, H, batchnorm=True)
    seq = rnnkit.Sequencer(lstm)
    with torch.no_grad():
        for bn in (lstm.bn_ih, lstm.bn_hh, lstm.bn_c):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    for _ in range(3):
        seq(torch.randn(T, N, D) * 2 + 1)  # move the running statistics
    x = torch.randn(T, N, D)
    train_out = seq(x).detach()
    seq.eval()
    before = {k: bn_dict(getattr(lstm, k)) for k in ("bn_ih", "bn_hh", "bn_c")}
    eval_out = seq(x)
    ref = eq.bn_lstm(
        x, lstm.weight_ih, lstm.weight_hh, lstm.bias, before["bn_ih"], before["bn_hh"],
        before["bn_c"], eps=0.1, training=False,
    )  # fmt: skip
    assert_close(eval_out, ref, **TOL)
    assert not torch.allclose(eval_out, train_out, atol=1e-3)
    assert torch.equal(lstm.bn_ih.running_mean, before["bn_ih"]["running_mean"])
    assert torch.equal(seq(x), eval_out)  # deterministic, stats unchanged
