"""SeqReverseSequence: reverses along a dimension (lists along 0), gradient reversed likewise."""

import pytest
import torch
from torch.testing import assert_close

from rnnkit import SeqReverseSequence

EXACT = dict(rtol=0, atol=0)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_reverses_a_tensor_along_dim(dim):
    x = torch.arange(24.0).view(2, 3, 4)
    out = SeqReverseSequence(dim)(x)
    assert out.shape == x.shape
    n = x.size(dim)
    for i in range(n):
        assert_close(out.select(dim, i), x.select(dim, n - 1 - i), **EXACT)


def test_does_not_modify_its_input():
    x = torch.arange(6.0).view(3, 2)
    before = x.clone()
    SeqReverseSequence(0)(x)
    assert_close(x, before, **EXACT)


def test_reverse_twice_is_identity():
    x = torch.randn(5, 3, 2)
    rev = SeqReverseSequence(0)
    assert_close(rev(rev(x)), x, **EXACT)


@pytest.mark.parametrize("kind", [list, tuple])
def test_reverses_a_list_of_steps_along_0(kind):
    steps = kind(torch.full((2, 3), float(t)) for t in range(4))
    out = SeqReverseSequence(0)(steps)
    assert isinstance(out, list) and len(out) == 4
    for t, o in enumerate(out):
        assert o is steps[3 - t]


def test_gradient_is_reversed():
    x = torch.randn(4, 2, 3, requires_grad=True)
    g = torch.randn(4, 2, 3)
    SeqReverseSequence(0)(x).backward(g)
    assert_close(x.grad, g.flip(0), **EXACT)
    x.grad = None
    SeqReverseSequence(2)(x).backward(g)
    assert_close(x.grad, g.flip(2), **EXACT)


def test_bad_dim_raises():
    with pytest.raises(
        ValueError,
        match=r"SeqReverseSequence: dim 3 is out of range for an input of shape \(2, 3, 4\)",
    ):
        SeqReverseSequence(3)(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="SeqReverseSequence: dim -4 is out of range"):
        SeqReverseSequence(-4)(torch.randn(2, 3, 4))
    with pytest.raises(
        ValueError, match="SeqReverseSequence: a list is a sequence along dim 0, got dim=1"
    ):
        SeqReverseSequence(1)([torch.randn(2, 3)] * 3)
    with pytest.raises(TypeError, match="SeqReverseSequence: expected dim to be an int, got 1.5"):
        SeqReverseSequence(1.5)
    with pytest.raises(TypeError, match="SeqReverseSequence: expected dim to be an int, got True"):
        SeqReverseSequence(True)
    with pytest.raises(TypeError, match="SeqReverseSequence: expected a tensor or a list, got str"):
        SeqReverseSequence(0)("abc")


def test_repr_shows_dim():
    assert "dim=1" in repr(SeqReverseSequence(1))
