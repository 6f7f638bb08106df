"""MaskZeroCriterion: loss = criterion(input[keep], target[keep]); masked rows get zero gradient."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from rnnkit import MaskZeroCriterion, SequencerCriterion

F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def log_probs(n, c=5):
    return torch.randn(n, c, dtype=F64).log_softmax(-1)


def test_no_masked_row_is_the_criterion_itself():
    x, y = log_probs(4), torch.randint(0, 5, (4,))
    assert_close(MaskZeroCriterion(nn.NLLLoss(), 1)(x, y), nn.NLLLoss()(x, y), rtol=0, atol=0)


@pytest.mark.parametrize("masked", [[3], [0, 2], [1, 2, 3]])
def test_loss_averages_over_kept_rows_only(masked):
    x, y = log_probs(4), torch.randint(0, 5, (4,))
    x[masked] = 0
    y[masked] = -7  # an invalid target: must never reach the criterion
    x.requires_grad_()
    loss = MaskZeroCriterion(nn.NLLLoss(), 1)(x, y)
    keep = [i for i in range(4) if i not in masked]
    xk = x.detach()[keep].clone().requires_grad_()
    ref = nn.NLLLoss()(xk, y[keep])
    assert_close(loss, ref, **TOL)
    assert_close(loss, -x.detach()[keep, y[keep]].mean(), **TOL)
    loss.backward()
    ref.backward()
    assert torch.equal(x.grad[masked], torch.zeros(len(masked), 5, dtype=F64))
    assert_close(x.grad[keep], xk.grad, **TOL)


@pytest.mark.parametrize(
    "criterion", [nn.NLLLoss(), nn.NLLLoss(reduction="sum"), nn.CrossEntropyLoss()]
)
def test_entirely_masked_batch_gives_zero_loss_and_zero_gradient(criterion):
    x = torch.zeros(3, 5, dtype=F64, requires_grad=True)
    loss = MaskZeroCriterion(criterion, 1)(x, torch.tensor([1, -4, 10**6]))
    assert loss.dim() == 0
    assert loss.item() == 0.0  # not NaN (the mean of nothing)
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_entirely_masked_batch_without_gradient():
    loss = MaskZeroCriterion(nn.MSELoss(), 1)(torch.zeros(2, 3), torch.randn(2, 3))
    assert loss.item() == 0.0


def test_float_targets_selected_with_the_rows():
    x, y = torch.randn(5, 3, dtype=F64), torch.randn(5, 3, dtype=F64)
    x[1] = 0
    keep = [0, 2, 3, 4]
    assert_close(MaskZeroCriterion(nn.MSELoss(), 1)(x, y), F.mse_loss(x[keep], y[keep]), **TOL)


class PairCosine(nn.Module):
    """A table-input criterion, as the original's CosineEmbeddingCriterion: ((a, b), y)."""

    def forward(self, pair, y):
        return F.cosine_embedding_loss(pair[0], pair[1], y)


def test_table_input_first_tensor_decides_and_masked_row_gets_zero_grads():
    a = torch.randn(4, 3, dtype=F64)
    b = torch.randn(4, 3, dtype=F64)
    a[2] = 0  # row 2 is padding; b's row 2 is not zero but is ignored with it
    b[0] = 0  # not the first tensor: row 0 is kept
    a.requires_grad_()
    b.requires_grad_()
    y = torch.tensor([1, -1, 1, 1])
    loss = MaskZeroCriterion(PairCosine(), 1)((a, b), y)
    keep = [0, 1, 3]
    assert_close(loss, F.cosine_embedding_loss(a[keep], b[keep], y[keep]), **TOL)
    loss.backward()
    assert torch.equal(a.grad[2], torch.zeros(3, dtype=F64))
    assert torch.equal(b.grad[2], torch.zeros(3, dtype=F64))
    assert (b.grad[[1, 3]].abs() > 0).any()


def test_zero_input_dims_for_a_batch_of_scores():
    scores, target = torch.tensor([0.5, 0.0, -1.0, 0.0]), torch.tensor([1.0, 9.0, 0.0, 9.0])
    loss = MaskZeroCriterion(nn.MSELoss(), 0)(scores, target)
    assert_close(loss, F.mse_loss(scores[[0, 2]], target[[0, 2]]))


def test_two_input_dims():
    x = torch.randn(3, 4, 2, dtype=F64).log_softmax(1)
    y = torch.randint(0, 4, (3, 2))
    x[1] = 0
    loss = MaskZeroCriterion(nn.NLLLoss(), 2)(x, y)
    assert_close(loss, nn.NLLLoss()(x[[0, 2]], y[[0, 2]]), **TOL)


def test_inside_sequencer_criterion_a_fully_padded_step_adds_nothing():
    x = torch.randn(3, 2, 5, dtype=F64).log_softmax(-1)
    y = torch.randint(0, 5, (3, 2))
    x[2] = 0
    x[0, 1] = 0
    x.requires_grad_()
    loss = SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(), 1))(x, y)
    expected = -x[0, 0, y[0, 0]] - x[1, :, :].gather(1, y[1].unsqueeze(1)).mean()
    assert_close(loss, expected, **TOL)
    loss.backward()
    assert torch.isfinite(x.grad).all()
    assert torch.equal(x.grad[2], torch.zeros(2, 5, dtype=F64))
    assert torch.equal(x.grad[0, 1], torch.zeros(5, dtype=F64))


# ---------------------------------------------------------------------------- errors


def test_negative_n_input_dim():
    with pytest.raises(ValueError, match="MaskZeroCriterion: .*n_input_dim"):
        MaskZeroCriterion(nn.NLLLoss(), -1)


@pytest.mark.parametrize("n", [0, 2])
def test_n_input_dim_not_matching_the_input_rank(n):
    crit = MaskZeroCriterion(nn.NLLLoss(), n)
    with pytest.raises(ValueError, match=rf"MaskZeroCriterion: .*n_input_dim={n}.*\(4, 5\)"):
        crit(log_probs(4), torch.randint(0, 5, (4,)))


def test_integer_input_needs_floating_point():
    crit = MaskZeroCriterion(nn.MSELoss(), 1)
    with pytest.raises(TypeError, match="MaskZeroCriterion: .*floating-point"):
        crit(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3))


def test_criterion_must_be_callable():
    with pytest.raises(TypeError, match="MaskZeroCriterion"):
        MaskZeroCriterion("nll", 1)


class SecondTensorSum(nn.Module):
    def forward(self, pair, y):
        return pair[1].sum()


def test_entirely_masked_table_input_with_infinite_values_gives_zero_loss():
    pair = (torch.zeros(2, 3), torch.tensor([[0.0, float("-inf")], [1.0, 2.0]]))
    loss = MaskZeroCriterion(SecondTensorSum(), 1)(pair, torch.zeros(2))
    assert loss.item() == 0.0
