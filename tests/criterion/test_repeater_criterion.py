"""RepeaterCriterion: the same target at every step, losses summed over time."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import FastLSTM, Repeater, RepeaterCriterion

T, N, C = 4, 3, 5


def test_equals_sum_over_steps_with_the_same_target():
    x = torch.randn(T, N, C).log_softmax(-1).requires_grad_()
    y = torch.randint(C, (N,))
    loss = RepeaterCriterion(nn.NLLLoss())(x, y)
    assert loss.shape == ()
    nll = nn.NLLLoss()
    assert_close(loss, sum(nll(x[t], y) for t in range(T)))
    loss.backward()
    expected = torch.zeros(T, N, C)
    expected[:, torch.arange(N), y] = -1.0 / N
    assert_close(x.grad, expected)


def test_list_input_equals_tensor_input():
    crit = RepeaterCriterion(nn.MSELoss())
    x, y = torch.randn(T, N, 2), torch.randn(N, 2)
    expected = sum(nn.functional.mse_loss(x[t], y) for t in range(T))
    assert_close(crit(x, y), expected)
    assert_close(crit(list(x), y), expected)


def test_with_a_repeater():
    model = Repeater(nn.Sequential(FastLSTM(3, C), nn.LogSoftmax(-1)), T)
    x = torch.randn(N, 3, requires_grad=True)
    y = torch.randint(C, (N,))
    loss = RepeaterCriterion(nn.NLLLoss())(model(x), y)
    loss.backward()
    assert x.grad is not None and torch.count_nonzero(x.grad) > 0


def test_bad_input_raises():
    crit = RepeaterCriterion(nn.MSELoss())
    with pytest.raises(ValueError, match=r"RepeaterCriterion.*at least one step"):
        crit([], torch.randn(N, 2))
    with pytest.raises(TypeError, match=r"RepeaterCriterion"):
        RepeaterCriterion("mse")
