"""The shared zero-mask mechanism: which rows are padding, zeroing, trimming, scattering back."""

import pytest
import torch
from torch.testing import assert_close

from rnnkit.masking.zero_mask import (
    check_n_input_dim,
    masked_call,
    scatter_rows,
    select_rows,
    zero_masked,
    zero_rows,
)


def test_rows_with_all_features_zero_are_padding():
    x = torch.randn(4, 3)
    x[1] = 0
    x[2, 0] = 0  # one zero feature is not enough
    x[3] = -0.0
    assert zero_rows("M", x, 1).tolist() == [False, True, False, True]


def test_exact_zeros_only_not_a_norm_threshold():
    x = torch.zeros(2, 3)
    x[0, 1] = 1e-30  # its squared norm underflows in float32, but the row is not all zeros
    assert zero_rows("M", x, 1).tolist() == [False, True]


def test_several_non_batch_dims_are_flattened():
    x = torch.randn(3, 2, 5)
    x[0] = 0
    x[2, 1] = 0  # half of the row is zero: not padding
    assert zero_rows("M", x, 2).tolist() == [True, False, False]


def test_index_batch_with_zero_input_dims():
    assert zero_rows("M", torch.tensor([3, 0, 1, 0]), 0).tolist() == [False, True, False, True]
    assert zero_rows("M", torch.tensor([0.5, 0.0]), 0).tolist() == [False, True]


def test_first_tensor_depth_first_decides():
    a, b = torch.randn(3, 2), torch.zeros(3, 4)
    a[2] = 0
    assert zero_rows("M", ((a, b), torch.zeros(3)), 1).tolist() == [False, False, True]
    assert zero_rows("M", [None, (b, a)], 1).tolist() == [True, True, True]


def test_errors_name_the_module_and_the_shape():
    with pytest.raises(ValueError, match=r"Mod: .*n_input_dim=2.*\(4, 3\)"):
        zero_rows("Mod", torch.randn(4, 3), 2)
    with pytest.raises(ValueError, match=r"Mod: .*n_input_dim=0.*\(4, 3\)"):
        zero_rows("Mod", torch.randn(4, 3), 0)
    with pytest.raises(TypeError, match="Mod: .*floating-point"):
        zero_rows("Mod", torch.ones(4, 3, dtype=torch.long), 1)
    with pytest.raises(TypeError, match="Mod"):
        zero_rows("Mod", (None, "x"), 1)


@pytest.mark.parametrize("bad", [-1, -5])
def test_negative_n_input_dim_is_refused(bad):
    with pytest.raises(ValueError, match="Mod.*n_input_dim"):
        check_n_input_dim("Mod", bad)
    assert check_n_input_dim("Mod", 0) == 0
    assert check_n_input_dim("Mod", 3) == 3


def test_zero_masked_zeroes_every_tensor_of_a_nested_output_and_blocks_gradient():
    mask = torch.tensor([False, True, False])
    a = torch.randn(3, 2, requires_grad=True)
    b = torch.randn(3, 2, 2, requires_grad=True)
    ya, (yb,) = zero_masked((a, (b,)), mask)
    assert torch.equal(ya[1], torch.zeros(2))
    assert torch.equal(yb[1], torch.zeros(2, 2))
    assert torch.equal(ya[[0, 2]], a[[0, 2]])
    (ya.sum() + yb.sum()).backward()
    assert a.grad.tolist() == [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]
    assert torch.equal(b.grad[1], torch.zeros(2, 2))


def test_select_then_scatter_puts_rows_back_among_zeros():
    x = (torch.randn(5, 2), [torch.randn(5)])
    keep = torch.tensor([0, 3])
    picked = select_rows(x, keep)
    assert torch.equal(picked[0], x[0][[0, 3]])
    back = scatter_rows(picked, keep, 5)
    assert torch.equal(back[0][[0, 3]], x[0][[0, 3]])
    assert torch.equal(back[0][[1, 2, 4]], torch.zeros(3, 2))
    assert torch.equal(back[1][0][[1, 2, 4]], torch.zeros(3))


@pytest.mark.parametrize("trim", [False, True])
def test_masked_call_trim_and_mask_agree(trim):
    seen = []
    w = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)

    def fn(x, state):
        seen.append(x.size(0))
        return x @ w + state, (x.sum(1), state * 2)

    x = torch.randn(4, 3, dtype=torch.float64)
    state = torch.randn(4, 2, dtype=torch.float64)
    mask = torch.tensor([True, False, True, False])
    out, (s1, s2) = masked_call(fn, (x, state), mask, trim)
    assert seen == [2 if trim else 4]
    assert torch.equal(out[mask], torch.zeros(2, 2, dtype=torch.float64))
    assert torch.equal(s2[mask], torch.zeros(2, 2, dtype=torch.float64))
    assert torch.equal(s1[mask], torch.zeros(2, dtype=torch.float64))
    assert_close(out[~mask], x[~mask] @ w + state[~mask])
    out.sum().backward()
    assert_close(w.grad, x[~mask].sum(0, keepdim=True).T.expand(3, 2))


@pytest.mark.parametrize("trim", [False, True])
def test_masked_call_without_masked_rows_or_all_masked(trim):
    x = torch.randn(3, 2)
    assert torch.equal(
        masked_call(lambda t: t * 3, (x,), torch.zeros(3, dtype=torch.bool), trim), x * 3
    )
    out = masked_call(lambda t: t + 1, (x,), torch.ones(3, dtype=torch.bool), trim)
    assert torch.equal(out, torch.zeros(3, 2))
