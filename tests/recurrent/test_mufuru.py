"""MuFuRu: every op alone, subsets, all eight, against the reference; errors; state."""

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
ALL_OPS = ("keep", "replace", "mul", "diff", "forget", "sqrt_diff", "max", "min")
PARAMS = (
    "weight_xr", "bias_xr", "weight_sr", "bias_sr", "weight_v", "bias_v", "weight_p", "bias_p",
)  # fmt: skip


def leaf_params(module):
    return {n: p.detach().clone().requires_grad_() for n, p in module.named_parameters()}


def check_against_reference(cell, ops):
    x = torch.randn(T, N, D, requires_grad=True)
    g = torch.randn(T, N, H)
    out = rnnkit.Sequencer(cell)(x)
    out.backward(g)
    p = leaf_params(cell)
    xr = x.detach().clone().requires_grad_()
    ref = eq.mufuru(xr, ops, *(p[n] for n in PARAMS))
    ref.backward(g)
    assert_close(out, ref, **TOL)
    assert_close(x.grad, xr.grad, **TOL)
    for name, param in cell.named_parameters():
        assert_close(param.grad, p[name].grad, **TOL, msg=name)
    return out


def test_default_is_all_eight_ops_and_matches_reference(float64):
    cell = rnnkit.MuFuRu(D, H)
    assert tuple(cell.ops) == ALL_OPS
    assert cell.weight_p.shape == (len(ALL_OPS) * H, D + H)
    check_against_reference(cell, ALL_OPS)


@pytest.mark.parametrize("op", ALL_OPS)
def test_each_op_alone_matches_reference(float64, op):
    cell = rnnkit.MuFuRu(D, H, ops=[op])
    assert cell.weight_p.shape == (H, D + H)
    out = check_against_reference(cell, (op,))
    if op in ("keep", "forget", "mul"):  # the state starts at zero and stays there
        assert torch.all(out == 0)


@pytest.mark.parametrize("ops", [("keep", "replace"), ("min", "sqrt_diff", "keep", "mul")])
def test_subsets_in_any_order_match_reference(float64, ops):
    cell = rnnkit.MuFuRu(D, H, ops=ops)
    assert cell.weight_p.shape == (len(ops) * H, D + H)
    check_against_reference(cell, ops)


@pytest.mark.parametrize("ops", [("keep", "bogus"), ("Keep",), ("add",)])
def test_unknown_op_names_raise_value_error(ops):
    with pytest.raises(ValueError, match="MuFuRu"):
        rnnkit.MuFuRu(D, H, ops=ops)


def test_gradcheck_input_and_parameters(float64):
    seq = rnnkit.Sequencer(rnnkit.MuFuRu(3, 4))
    x = torch.randn(3, 2, 3, requires_grad=True)
    names = ["module.weight_p", "module.weight_v"]
    params = dict(seq.named_parameters())
    ps = [params[n].detach().clone().requires_grad_() for n in names]

    def f(x, *ps):
        return functional_call(seq, dict(zip(names, ps)), (x,))

    assert gradcheck(f, (x, *ps))


def test_stepping_by_hand_equals_sequencer(float64):
    cell = rnnkit.MuFuRu(D, H)
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(cell)(x)
    cell.forget()
    assert cell.get_state() is None
    steps = [cell(x[t]) for t in range(T)]
    assert_close(torch.stack(steps), expected, **TOL)
    assert_close(cell.get_state(), expected[-1], **TOL)


def test_state_dict_round_trip_reproduces_outputs():
    cell = rnnkit.MuFuRu(D, H, ops=("replace", "max", "diff"))
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(cell)(x)
    buf = io.BytesIO()
    torch.save(cell.state_dict(), buf)
    buf.seek(0)
    fresh = rnnkit.MuFuRu(D, H, ops=("replace", "max", "diff"))
    assert not torch.allclose(rnnkit.Sequencer(fresh)(x), expected)
    fresh.load_state_dict(torch.load(buf))
    assert torch.equal(rnnkit.Sequencer(fresh)(x), expected)


@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.to(torch.float64)])
def test_dtype_conversion_moves_the_carried_state(convert):
    cell = rnnkit.MuFuRu(D, H)
    x = torch.randn(T, N, D)
    for t in range(2):
        cell(x[t])
    s32 = cell.get_state()
    convert(cell)
    assert cell.get_state().dtype == torch.float64
    assert_close(cell.get_state(), s32.double())
    assert cell(x[2].double()).dtype == torch.float64
