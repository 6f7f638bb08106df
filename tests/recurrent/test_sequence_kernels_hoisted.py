"""Issue 15: the MuFuRu and FastLSTM(batchnorm=True) sequence kernels (input products hoisted,
recurrent products deferred) against the step path of the same module, in float64."""

import pytest
import torch
from torch.testing import assert_close

import rnnkit

from .kernel_twins import assert_same_run, padded_steps, run_calls, twins

T, N, D, H = 6, 4, 5, 3

MODULES = {
    "mufuru": lambda **kw: rnnkit.MuFuRu(D, H, **kw),
    "mufuru_gru_like": lambda **kw: rnnkit.MuFuRu(D, H, ops=("keep", "replace"), **kw),
    "mufuru_keep_forget": lambda **kw: rnnkit.MuFuRu(D, H, ops=("forget", "keep"), **kw),
    "bn_lstm": lambda **kw: rnnkit.FastLSTM(D, H, batchnorm=True, **kw),
    "bn_lstm_no_affine": lambda **kw: rnnkit.FastLSTM(D, H, batchnorm=True, affine=False, **kw),
}


def _make(name, **kw):
    torch.manual_seed(0)
    return MODULES[name](**kw).double()


def _input(steps=T):
    return torch.randn(steps, N, D, dtype=torch.float64, requires_grad=True)


def _bn_buffers(module):
    return {k: v.clone() for k, v in module.named_buffers()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_matches_stepping(name):
    fast, slow, calls = twins(_make(name))
    assert_same_run(fast, slow, [_input()], calls=calls)
    # Batch norm: the same T running-statistic updates, in order.
    assert_close(_bn_buffers(fast), _bn_buffers(slow), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_rho_remember_and_list_input(name):
    for remember in ("both", "neither"):
        fast, slow, calls = twins(_make(name, rho=2))
        xs = [_input(), list(_input(4).detach().unbind(0))]
        assert_same_run(fast, slow, xs, remember=remember, calls=calls)
        assert_close(_bn_buffers(fast), _bn_buffers(slow), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_mask_zero_anywhere_resets_the_row(name):
    fast, slow, calls = twins(_make(name).mask_zero(1))
    x = padded_steps(T, N, D).requires_grad_()
    assert_same_run(fast, slow, [x], calls=calls)
    assert_close(_bn_buffers(fast), _bn_buffers(slow), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["mufuru", "bn_lstm"])
def test_eval_in_chunks_keeps_no_graph(name):
    fast, slow, calls = twins(_make(name))
    warm = _input()
    run_calls(fast, [warm])  # running statistics that are not the initial ones
    run_calls(slow, [warm])
    fast.eval(), slow.eval()
    x = torch.randn(150, N, D, dtype=torch.float64)  # more than one inference chunk
    (out_f,), _ = run_calls(fast, [x], backward=False)
    (out_s,), _ = run_calls(slow, [x], backward=False)
    assert not out_f.requires_grad
    assert_close(out_f, out_s, rtol=0, atol=1e-12)
    assert_close(_bn_buffers(fast), _bn_buffers(slow), rtol=0, atol=1e-12)


def test_mufuru_sequence_gradcheck():
    from torch.autograd import gradcheck

    from rnnkit.cells.mufuru import MUFURU_OPS
    from rnnkit.kernels.mufuru import mufuru_sequence

    cell = rnnkit.MuFuRu(2, 2, ops=("keep", "replace", "max", "sqrt_diff")).double()
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    s = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    names = ("xr", "sr", "v", "p")
    weights = [w for n in names for w in (getattr(cell, f"weight_{n}"), getattr(cell, f"bias_{n}"))]
    valid = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)

    def run(x, s, *weights):
        ops = {name: MUFURU_OPS[name] for name in cell.ops}
        return mufuru_sequence(x, s, ops, *weights, valid=valid)

    assert gradcheck(run, (x, s, *weights))


@pytest.mark.parametrize("masked", [False, True], ids=["dense", "zero-steps"])
def test_batchnorm_lstm_sequence_gradcheck(masked):
    from torch.autograd import gradcheck

    from rnnkit.kernels.batch_norm_lstm import batchnorm_lstm_sequence

    torch.manual_seed(3)
    cell = rnnkit.FastLSTM(2, 2, batchnorm=True).double()
    with torch.no_grad():  # gains and biases away from their initial 0.1 and 0
        for bn in (cell.bn_hh, cell.bn_c):
            bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-0.5, 0.5)
    projected = torch.randn(4, 3, 8, dtype=torch.float64, requires_grad=True)
    h0, c0 = (torch.randn(3, 2, dtype=torch.float64, requires_grad=True) for _ in range(2))
    valid = torch.tensor([[1, 1, 1], [0, 1, 1], [1, 1, 0], [1, 1, 1]]) if masked else None
    bns = (cell.bn_hh.weight, cell.bn_hh.bias, cell.bn_c.weight, cell.bn_c.bias)
    params = (cell.weight_hh, cell.bias, *bns)

    def run(projected, h0, c0, *_params):
        return batchnorm_lstm_sequence(projected, h0, c0, cell.weight_hh, cell.bias, cell.bn_hh,
                                       cell.bn_c, valid)

    assert gradcheck(run, (projected, h0, c0, *params))


def test_batchnorm_runs_its_whole_sequence_kernel_and_falls_back_where_it_cannot(monkeypatch):
    from rnnkit.kernels import batch_norm_lstm

    calls = []
    kernel = batch_norm_lstm.batchnorm_lstm_sequence
    monkeypatch.setattr("rnnkit.recurrent.fast_lstm.batchnorm_lstm_sequence",
                        lambda *a: calls.append(1) or kernel(*a))  # fmt: skip
    module = _make("bn_lstm", momentum=None)  # the cumulative average: counts must agree too
    fast, slow, calls_ = twins(module)
    assert_same_run(fast, slow, [_input()], calls=calls_)
    assert_close(_bn_buffers(fast), _bn_buffers(slow), rtol=0, atol=1e-12)
    assert calls, "the training call ran the step loop, not the kernel"
    calls.clear()
    fast.eval()  # running statistics: the step loop, with the same numbers
    slow.eval()
    x = _input()
    (out_f,), _ = run_calls(fast, [x], backward=False)
    (out_s,), _ = run_calls(slow, [x], backward=False)
    assert not calls
    assert_close(out_f, out_s, rtol=0, atol=1e-12)
    one_row = rnnkit.Sequencer(rnnkit.FastLSTM(D, H, batchnorm=True))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        one_row(torch.randn(T, 1, D))  # BatchNorm1d's own error, as stepping gives
    assert not calls
