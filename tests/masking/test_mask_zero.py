"""MaskZero: output rows are zero where the input row is all zeros; other rows are untouched."""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import GRU, FastLSTM, MaskZero, Recursor, Sequencer, TrimZero

F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def test_linear_padded_rows_zero_other_rows_exact():
    lin = nn.Linear(3, 5).double()
    layer = MaskZero(lin, 1)
    x = torch.randn(6, 3, dtype=F64)
    x[[1, 4]] = 0
    out = layer(x)
    assert torch.equal(out[[1, 4]], torch.zeros(2, 5, dtype=F64))
    assert torch.equal(out[[0, 2, 3, 5]], lin(x)[[0, 2, 3, 5]])


def test_gradients_equal_module_on_kept_rows_and_zero_for_masked_rows():
    lin = nn.Linear(3, 5).double()
    ref = copy.deepcopy(lin)
    layer = MaskZero(lin, 1)
    x = torch.randn(6, 3, dtype=F64)
    x[[1, 4]] = 0
    x.requires_grad_()
    w = torch.randn(6, 5, dtype=F64)
    (layer(x) * w).sum().backward()
    keep = [0, 2, 3, 5]
    xk = x.detach()[keep].clone().requires_grad_()
    (ref(xk) * w[keep]).sum().backward()
    assert_close(lin.weight.grad, ref.weight.grad, **TOL)
    assert_close(lin.bias.grad, ref.bias.grad, **TOL)
    assert_close(x.grad[keep], xk.grad, **TOL)
    assert torch.equal(x.grad[[1, 4]], torch.zeros(2, 3, dtype=F64))


def test_log_softmax_of_a_padding_row_is_zero():
    layer = MaskZero(nn.LogSoftmax(-1), 1)
    x = torch.randn(3, 4)
    x[2] = 0
    out = layer(x)
    assert torch.equal(out[2], torch.zeros(4))
    assert_close(out[:2], x[:2].log_softmax(-1))


def test_two_non_batch_dims():
    conv = nn.Conv1d(2, 3, 3)
    layer = MaskZero(conv, 2)
    x = torch.randn(3, 2, 5)
    x[0] = 0
    x[1, 0] = 0  # only one channel zero: not padding
    out = layer(x)
    assert torch.equal(out[0], torch.zeros(3, 3))
    assert torch.equal(out[1:], conv(x)[1:])


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x):
        a, (b, c) = x
        return self.lin(a) * b, (a.sum(1), c + 1)


def test_nested_tuple_input_and_output():
    layer = MaskZero(Pair(), 1)
    a, b, c = torch.randn(4, 3), torch.randn(4, 2), torch.randn(4)
    a[0] = 0
    b[3] = 0  # not the first tensor: does not make row 3 padding
    y, (s, d) = layer((a, (b, c)))
    y_ref, (s_ref, d_ref) = layer.module((a, (b, c)))
    for t, t_ref in ((y, y_ref), (s, s_ref), (d, d_ref)):
        assert torch.equal(t[0], torch.zeros_like(t[0]))
        assert torch.equal(t[1:], t_ref[1:])


def test_no_padding_is_the_module_itself():
    lin = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    assert torch.equal(MaskZero(lin, 1)(x), lin(x))


def test_in_a_sequencer_with_masked_step_modules():
    """Stacked masked layers keep padding at zero so the next layer treats it as padding."""
    lstm = FastLSTM(3, 4).double()
    ref = nn.Sequential(copy.deepcopy(lstm), nn.Linear(4, 4), GRU(4, 2)).double()
    model = Sequencer(
        nn.Sequential(
            lstm.mask_zero(1),
            MaskZero(copy.deepcopy(ref[1]), 1),
            copy.deepcopy(ref[2]).mask_zero(1),
        )
    )
    x = torch.randn(5, 2, 3, dtype=F64)
    x[:2, 1] = 0
    out = model(x)
    assert torch.equal(out[:2, 1], torch.zeros(2, 2, dtype=F64))
    assert_close(out[2:, 1], Sequencer(ref)(x[2:, 1:])[:, 0], **TOL)
    assert_close(out[:, 0], Sequencer(ref)(x[:, :1])[:, 0], **TOL)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("cls", [MaskZero, TrimZero])
@pytest.mark.parametrize(
    "make",
    [
        lambda: FastLSTM(3, 4),
        lambda: nn.Sequential(nn.Linear(3, 3), GRU(3, 4)),
        lambda: Recursor(nn.Linear(3, 4)),
    ],
)
def test_refuses_a_step_module_and_points_to_mask_zero(cls, make):
    with pytest.raises(TypeError, match=rf"{cls.__name__}: .*mask_zero"):
        cls(make(), 1)


@pytest.mark.parametrize("cls", [MaskZero, TrimZero])
def test_negative_n_input_dim(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: .*n_input_dim"):
        cls(nn.Linear(3, 2), -1)


@pytest.mark.parametrize("cls", [MaskZero, TrimZero])
@pytest.mark.parametrize("n", [0, 2, 3])
def test_n_input_dim_not_matching_the_input_rank(cls, n):
    layer = cls(nn.Linear(3, 2), n)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: .*n_input_dim={n}.*\(4, 3\)"):
        layer(torch.randn(4, 3))


@pytest.mark.parametrize("cls", [MaskZero, TrimZero])
def test_integer_input_with_input_dims_needs_floating_point(cls):
    layer = cls(nn.Embedding(5, 2), 1)
    with pytest.raises(TypeError, match=rf"{cls.__name__}: .*floating-point"):
        layer(torch.tensor([[1, 2], [0, 0]]))
    # indices are masked with n_input_dim=0: index 0 is padding
    emb = nn.Embedding(5, 2)
    out = cls(emb, 0)(torch.tensor([3, 0]))
    assert torch.equal(out[1], torch.zeros(2))
    assert torch.equal(out[0], emb.weight[3])


def test_module_must_be_a_module():
    with pytest.raises(TypeError, match="MaskZero"):
        MaskZero(torch.tanh, 1)
