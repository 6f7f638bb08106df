"""VRClassReward: reward, REINFORCE gradients equal the analytic score function, baseline, errors."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit.reinforce.bernoulli import ReinforceBernoulli
from rnnkit.reinforce.categorical import ReinforceCategorical
from rnnkit.reinforce.normal import ReinforceNormal
from rnnkit.reinforce.vr_class_reward import VRClassReward

N, C = 6, 3
TARGET = torch.tensor([0, 1, 2, 0, 1, 2])
# argmax per row: 0, 1, 0, 0, 2, 2 -> correct rows 0, 1, 3, 5
LOG_PROBS = torch.log_softmax(
    torch.tensor([[3.0, 0, 0], [0, 3, 0], [3, 0, 0], [3, 0, 0], [0, 0, 3], [0, 0, 3]]), 1
)
CORRECT = torch.tensor([1.0, 1, 0, 1, 0, 1])


def _baseline():
    return torch.tensor([0.5, -0.2, 0.3, 1.0, 0.0, 0.7], requires_grad=True)


def test_reward_is_scale_for_a_correct_class_and_zero_otherwise():
    policy = ReinforceNormal(1.0)
    policy(torch.zeros(N, 2))
    crit = VRClassReward(policy, scale=2.5)
    crit((LOG_PROBS, torch.zeros(N)), TARGET)
    assert_close(crit.reward, 2.5 * CORRECT)
    assert not crit.reward.requires_grad


def _check_surrogate_gradient(policy, input, score):
    """``input.grad`` must be ``-(R - b) / N * score(a)`` for the sampled actions ``a``."""
    a = policy(input)
    b = _baseline()
    log_probs = LOG_PROBS.clone().requires_grad_()
    VRClassReward(policy, scale=2.0)((log_probs, b), TARGET).backward()
    advantage = (2.0 * CORRECT - b.detach()).view(N, *[1] * (a.dim() - 1))
    assert_close(input.grad, -advantage / N * score(a, input.detach()))
    assert log_probs.grad is None  # the reward sends no gradient to the classifier
    return b


def test_normal_gradient_is_the_analytic_score_function():
    mu = torch.randn(N, 2, requires_grad=True)
    _check_surrogate_gradient(ReinforceNormal(0.5), mu, lambda a, m: (a - m) / 0.25)


def test_bernoulli_gradient_is_the_analytic_score_function():
    p = torch.rand(N, 4).clamp(0.1, 0.9).requires_grad_()
    _check_surrogate_gradient(ReinforceBernoulli(), p, lambda a, q: (a - q) / (q * (1 - q)))


def test_categorical_gradient_is_one_over_p_at_the_sampled_class():
    p = torch.softmax(torch.randn(N, 4), 1).requires_grad_()
    _check_surrogate_gradient(ReinforceCategorical(), p, lambda a, q: a / q)


@pytest.mark.parametrize("shape", [(N,), (N, 1)])
def test_baseline_gradient_is_the_mse_gradient_towards_the_reward(shape):
    policy = ReinforceNormal(1.0)
    policy(torch.zeros(N, 2, requires_grad=True))
    b = _baseline().detach().view(shape).requires_grad_()
    loss = VRClassReward(policy, scale=3.0)((LOG_PROBS, b), TARGET)
    # the surrogate does not depend on b (its advantage is detached)
    grad = torch.autograd.grad(loss, b)[0]
    assert_close(grad.view(N), 2 * (b.detach().view(N) - 3.0 * CORRECT) / N)


def test_modules_at_different_depths_each_receive_their_gradient():
    normal, bernoulli = ReinforceNormal(0.5), ReinforceBernoulli()
    model = nn.Sequential(nn.ModuleList([normal]), nn.Sequential(nn.Sequential(bernoulli)))
    mu = torch.randn(N, 2, requires_grad=True)
    p = torch.rand(N, 3).clamp(0.1, 0.9).requires_grad_()
    a_n, a_b = normal(mu), bernoulli(p)
    b = _baseline()
    VRClassReward(model)((LOG_PROBS, b), TARGET).backward()
    adv = (CORRECT - b.detach()).view(N, 1) / N
    assert_close(mu.grad, -adv * (a_n - mu.detach()) / 0.25)
    assert_close(p.grad, -adv * (a_b - p.detach()) / (p.detach() * (1 - p.detach())))


def test_a_module_called_at_several_steps_gets_the_sum_of_its_step_gradients():
    policy = ReinforceNormal(0.5)
    mu = torch.randn(N, 2, requires_grad=True)
    a1, a2 = policy(mu), policy(mu)
    b = _baseline()
    VRClassReward(policy)((LOG_PROBS, b), TARGET).backward()
    adv = (CORRECT - b.detach()).view(N, 1) / N
    assert_close(mu.grad, -adv * ((a1 - mu.detach()) + (a2 - mu.detach())) / 0.25)


def test_records_are_cleared_and_the_criterion_owns_no_parameters():
    model = nn.Sequential(nn.Linear(2, 2), ReinforceNormal(0.5))
    model(torch.randn(N, 2))
    crit = VRClassReward(model)
    crit((LOG_PROBS, torch.zeros(N)), TARGET)
    assert model[1].n_recorded == 0
    assert list(crit.parameters()) == [] and crit.module is model
    with pytest.raises(ValueError, match="VRClassReward: none of the 1 Reinforce"):
        crit((LOG_PROBS, torch.zeros(N)), TARGET)  # nothing recorded any more


def test_eval_mode_model_or_no_reinforce_module_is_a_clear_error():
    policy = ReinforceNormal(0.5).eval()
    policy(torch.zeros(N, 2))
    with pytest.raises(ValueError, match="VRClassReward: none of .* training mode"):
        VRClassReward(policy)((LOG_PROBS, torch.zeros(N)), TARGET)
    with pytest.raises(ValueError, match="VRClassReward: .*at least one Reinforce module"):
        VRClassReward(nn.Linear(2, 2))((LOG_PROBS, torch.zeros(N)), TARGET)


@pytest.mark.parametrize(
    "input, target, error, pattern",
    [
        (LOG_PROBS, TARGET, TypeError, r"pair \(log_probs, baseline\)"),
        ((LOG_PROBS,), TARGET, TypeError, "pair.*length 1"),
        ((LOG_PROBS[0], torch.zeros(N)), TARGET, ValueError, r"log_probs of shape \(N, C\)"),
        ((LOG_PROBS, torch.zeros(N, 2)), TARGET, ValueError, r"baseline of shape \(6,\)"),
        ((LOG_PROBS, torch.zeros(N)), TARGET.float(), TypeError, "integer"),
        ((LOG_PROBS, torch.zeros(N)), TARGET[:4], ValueError, r"target of shape \(6,\)"),
        ((LOG_PROBS, torch.zeros(N)), TARGET + 1, ValueError, r"classes in \[0, 2\]"),
        ((LOG_PROBS[:4], torch.zeros(4)), TARGET[:4], ValueError, "batch of 6.*batch of 4"),
    ],
)
def test_bad_input_is_refused_with_a_named_error(input, target, error, pattern):
    policy = ReinforceNormal(1.0)
    policy(torch.zeros(N, 2))
    with pytest.raises(error, match=f"VRClassReward: .*{pattern}"):
        VRClassReward(policy)(input, target)


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="VRClassReward: expected module"):
        VRClassReward(lambda x: x)
    with pytest.raises(ValueError, match="VRClassReward: expected scale"):
        VRClassReward(ReinforceNormal(1.0), scale=float("inf"))
