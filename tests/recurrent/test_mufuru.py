"""MuFuRu: every op alone, subsets, all eight, against the reference; errors; state."""

import pytest
import torch
from reference import equations as eq
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


def test_stepping_by_hand_equals_sequencer(float64):
    cell = rnnkit.MuFuRu(D, H)
    x = torch.randn(T, N, D)
    expected = rnnkit.Sequencer(cell)(x)
    cell.forget()
    assert cell.get_state() is None
    steps = [cell(x[t]) for t in range(T)]
    assert_close(torch.stack(steps), expected, **TOL)
    assert_close(cell.get_state(), expected[-1], **TOL)
