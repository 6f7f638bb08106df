"""REINFORCE end to end: tiny policies learn from reward alone (bandits and a target location)."""

import torch
from torch import nn

from rnnkit.reinforce.categorical import ReinforceCategorical
from rnnkit.reinforce.normal import ReinforceNormal
from rnnkit.reinforce.vr_class_reward import VRClassReward

N = 32


def _sgd(params, lr):
    # plain SGD by hand: torch.optim's first use costs ~1 s of imports
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def test_categorical_bandit_learns_the_rewarded_arm_with_vr_class_reward():
    # The "class" is the arm pulled; only arm 2 is rewarded; the baseline is learned.
    logits = nn.Parameter(torch.zeros(4))
    baseline = nn.Parameter(torch.zeros(1))
    policy = ReinforceCategorical()
    crit = VRClassReward(policy)
    target = torch.full((N,), 2)
    first = None
    for _ in range(60):
        action = policy(torch.softmax(logits, 0).expand(N, 4))  # (N, 4) one-hot
        loss = crit((action, baseline.expand(N)), target)
        first = crit.reward.mean().item() if first is None else first
        loss.backward()
        _sgd([logits, baseline], lr=0.5)
    probs = torch.softmax(logits.detach(), 0)
    assert probs.argmax().item() == 2 and probs[2] > 0.9
    assert first < 0.5 < crit.reward.mean().item()
    assert 0.5 < baseline.item() <= 1.0  # the baseline tracks the mean reward


def test_categorical_bandit_learns_the_best_arm_with_graded_rewards():
    # The base API alone: surrogate -mean((r - mean r) * log p(a)).
    means = torch.tensor([0.2, 0.5, 0.8, 0.4])
    logits = nn.Parameter(torch.zeros(4))
    policy = ReinforceCategorical()
    for _ in range(80):
        action = policy(torch.softmax(logits, 0).expand(N, 4))
        reward = torch.bernoulli(action @ means)  # (N,)
        loss = -((reward - reward.mean()) * policy.recorded_log_prob()).mean()
        policy.clear()
        loss.backward()
        _sgd([logits], lr=1.0)
    assert torch.softmax(logits.detach(), 0).argmax().item() == 2


def test_normal_policy_learns_a_target_location():
    target = torch.tensor([0.5, -0.3])
    mu = nn.Parameter(torch.zeros(2))
    policy = ReinforceNormal(0.2)
    for _ in range(150):
        a = policy(mu.expand(N, 2))
        reward = -((a - target) ** 2).sum(1)
        loss = -((reward - reward.mean()) * policy.recorded_log_prob()).mean()
        policy.clear()
        loss.backward()
        _sgd([mu], lr=0.1)
    assert (mu.detach() - target).norm() < 0.1
    policy.eval()
    assert torch.equal(policy(mu.expand(2, 2)), mu.detach().expand(2, 2))
