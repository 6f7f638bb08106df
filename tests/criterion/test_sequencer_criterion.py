"""SequencerCriterion: a criterion applied at every step, summed (or averaged) over time."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import FastLSTM, Sequencer, SequencerCriterion

T, N, C = 4, 3, 5


def _log_probs():
    return torch.randn(T, N, C).log_softmax(-1).requires_grad_()


def test_equals_sum_of_step_losses():
    x, y = _log_probs(), torch.randint(C, (T, N))
    loss = SequencerCriterion(nn.NLLLoss())(x, y)
    assert loss.shape == ()
    nll = nn.NLLLoss()
    assert_close(loss, sum(nll(x[t], y[t]) for t in range(T)))


def test_size_average_is_the_mean_over_steps():
    x, y = _log_probs(), torch.randint(C, (T, N))
    loss = SequencerCriterion(nn.NLLLoss(), size_average=True)(x, y)
    nll = nn.NLLLoss()
    assert_close(loss, sum(nll(x[t], y[t]) for t in range(T)) / T)


def test_regression_targets():
    x, y = torch.randn(T, N, 2), torch.randn(T, N, 2)
    loss = SequencerCriterion(nn.MSELoss(reduction="sum"))(x, y)
    assert_close(loss, (x - y).pow(2).sum())


def test_gradient_equals_hand_computed():
    x, y = _log_probs(), torch.randint(C, (T, N))
    SequencerCriterion(nn.NLLLoss())(x, y).backward()
    expected = torch.zeros(T, N, C)
    expected[torch.arange(T)[:, None], torch.arange(N), y] = -1.0 / N
    assert_close(x.grad, expected)


def test_tensor_and_list_inputs_agree():
    crit = SequencerCriterion(nn.NLLLoss())
    x, y = _log_probs(), torch.randint(C, (T, N))
    loss_t = crit(x, y)
    loss_t.backward()
    xs = [x.detach()[t].clone().requires_grad_() for t in range(T)]
    loss_l = crit(xs, list(y))
    loss_l.backward()
    assert_close(loss_l, loss_t)
    assert_close(torch.stack([xt.grad for xt in xs]), x.grad)
    # mixed: tensor input, list target and the other way round
    assert_close(crit(x, list(y)), loss_t)
    assert_close(crit(xs, y), loss_t)


def test_with_a_sequencer_list_output():
    model = Sequencer(nn.Sequential(FastLSTM(3, C), nn.LogSoftmax(-1)))
    x = torch.randn(T, N, 3)
    y = torch.randint(C, (T, N))
    crit = SequencerCriterion(nn.NLLLoss())
    assert_close(crit(model(list(x)), y), crit(model(x), y))


@pytest.mark.parametrize("target_steps", [T - 1, T + 1])
def test_mismatched_number_of_steps_raises(target_steps):
    crit = SequencerCriterion(nn.NLLLoss())
    x, y = _log_probs(), torch.randint(C, (target_steps, N))
    with pytest.raises(ValueError, match=rf"SequencerCriterion.*{T} input.*{target_steps} target"):
        crit(x, y)
    with pytest.raises(ValueError, match=r"SequencerCriterion"):
        crit(list(x), list(y))


def test_non_criterion_raises():
    with pytest.raises(TypeError, match=r"SequencerCriterion.*criterion"):
        SequencerCriterion(3)
