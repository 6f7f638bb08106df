"""ReinforceNormal, ReinforceCategorical, ReinforceBernoulli: sampling, evaluation, records, errors."""

import copy

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Normal
from torch.testing import assert_close

from rnnkit.reinforce.bernoulli import ReinforceBernoulli
from rnnkit.reinforce.categorical import ReinforceCategorical
from rnnkit.reinforce.normal import ReinforceNormal
from rnnkit.reinforce.reinforce import Reinforce, reinforce_modules

MANY = 20000


def test_normal_samples_have_the_given_mean_and_stdev():
    mu = torch.tensor([0.5, -1.0]).expand(MANY, 2)
    a = ReinforceNormal(0.3)(mu)
    assert a.shape == (MANY, 2)
    assert_close(a.mean(0), torch.tensor([0.5, -1.0]), atol=0.01, rtol=0)
    assert_close(a.std(0), torch.tensor([0.3, 0.3]), atol=0.01, rtol=0)


def test_categorical_samples_are_one_hot_with_the_given_frequencies():
    p = torch.tensor([0.2, 0.5, 0.3])
    a = ReinforceCategorical()(p.expand(MANY, 3))
    assert ((a == 0) | (a == 1)).all()
    assert (a.sum(1) == 1).all()
    assert_close(a.mean(0), p, atol=0.05, rtol=0)


def test_bernoulli_samples_are_binary_with_the_given_frequencies():
    p = torch.tensor([[0.1, 0.5], [0.9, 0.0]])
    a = ReinforceBernoulli()(p.expand(MANY, 2, 2))
    assert ((a == 0) | (a == 1)).all()
    assert_close(a.mean(0), p, atol=0.05, rtol=0)


@pytest.mark.parametrize(
    "module, input",
    [
        (ReinforceNormal(0.5), torch.randn(4, 3)),
        (ReinforceCategorical(), torch.tensor([[0.2, 0.8], [0.6, 0.4]])),
        (ReinforceBernoulli(), torch.tensor([[0.2, 0.8], [0.6, 0.4]])),
    ],
)
def test_eval_returns_the_mean_and_records_nothing(module, input):
    module.eval()
    x = input.clone().requires_grad_()
    out = module(x)
    assert_close(out, input)
    assert not out.requires_grad
    assert module.n_recorded == 0 and module.recorded_log_prob() is None
    module.train()
    assert not torch.equal(module(x), input)  # training samples


def test_training_output_carries_no_gradient_but_the_record_does():
    mu = torch.randn(5, 2, requires_grad=True)
    policy = ReinforceNormal(1.0)
    a = policy(mu)
    assert not a.requires_grad
    assert policy.recorded_log_prob().requires_grad


def test_normal_records_the_gaussian_log_density():
    mu = torch.randn(6, 2, 3)
    policy = ReinforceNormal(0.7)
    a = policy(mu)
    expected = Normal(mu, 0.7).log_prob(a).sum((1, 2))
    assert_close(policy.recorded_log_prob(), expected)


def test_categorical_records_the_log_probability_of_the_sampled_class():
    p = torch.softmax(torch.randn(8, 5), 1)
    policy = ReinforceCategorical()
    a = policy(p)
    assert_close(policy.recorded_log_prob(), p[a.bool()].log())


def test_bernoulli_records_the_log_probability_and_is_finite_at_0_and_1():
    p = torch.tensor([[0.3, 0.0, 1.0, 0.7]] * 10, requires_grad=True)
    policy = ReinforceBernoulli()
    a = policy(p)
    lp = policy.recorded_log_prob()
    expected = Bernoulli(probs=p.detach().clamp(1e-6, 1 - 1e-6)).log_prob(a).sum(1)
    assert_close(lp, expected, atol=1e-5, rtol=1e-5)
    lp.sum().backward()
    assert torch.isfinite(p.grad).all()


def test_each_call_is_recorded_and_summed_until_cleared():
    policy = ReinforceNormal(1.0)
    mu = torch.zeros(3, 2)
    a1, a2 = policy(mu), policy(mu)
    assert policy.n_recorded == 2
    expected = Normal(mu, 1.0).log_prob(a1).sum(1) + Normal(mu, 1.0).log_prob(a2).sum(1)
    assert_close(policy.recorded_log_prob(), expected)
    policy.clear()
    assert policy.n_recorded == 0 and policy.recorded_log_prob() is None


def test_records_of_different_batch_sizes_are_refused():
    policy = ReinforceNormal(1.0)
    policy(torch.zeros(3, 2))
    policy(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="ReinforceNormal.*batch sizes"):
        policy.recorded_log_prob()


def test_reinforce_modules_finds_modules_at_any_depth():
    inner, outer = ReinforceBernoulli(), ReinforceNormal(0.1)
    model = nn.Sequential(nn.Linear(2, 2), outer, nn.ModuleList([nn.Sequential(inner)]))
    assert reinforce_modules(model) == [outer, inner]
    assert reinforce_modules(outer) == [outer]
    assert reinforce_modules(nn.Linear(2, 2)) == []
    assert isinstance(inner, Reinforce) and isinstance(inner, nn.Module)


def test_deepcopy_after_sampling_drops_the_records():
    model = nn.Sequential(nn.Linear(2, 2), ReinforceNormal(0.1))
    model(torch.randn(3, 2))
    twin = copy.deepcopy(model)
    assert twin[1].n_recorded == 0 and model[1].n_recorded == 1


@pytest.mark.parametrize("stdev", [0, -1.0, float("nan"), True, "1", None])
def test_normal_refuses_a_bad_stdev(stdev):
    with pytest.raises(ValueError, match="ReinforceNormal.*stdev"):
        ReinforceNormal(stdev)


@pytest.mark.parametrize(
    "module, input, error, pattern",
    [
        (ReinforceNormal(1.0), torch.zeros(3, 2, dtype=torch.long), TypeError, "floating"),
        (ReinforceNormal(1.0), torch.tensor(0.5), ValueError, r"\(N, \*\)"),
        (ReinforceNormal(1.0), [0.5], TypeError, "torch.Tensor"),
        (
            ReinforceCategorical(),
            torch.full((2, 3, 1), 1 / 3),
            ValueError,
            r"\(N, K\).*\(2, 3, 1\)",
        ),
        (ReinforceCategorical(), torch.tensor([[-0.5, 1.5]]), ValueError, r"\[0, 1\]"),
        (ReinforceCategorical(), torch.tensor([[0.5, 0.9]]), ValueError, "sum to 1"),
        (ReinforceCategorical(), torch.log(torch.tensor([[0.5, 0.5]])), ValueError, r"\[0, 1\]"),
        (ReinforceBernoulli(), torch.tensor([[1.2, 0.5]]), ValueError, r"\[0, 1\].*1\.2"),
        (ReinforceBernoulli(), torch.tensor([[float("nan")]]), ValueError, r"\[0, 1\]"),
    ],
)
def test_bad_input_names_the_module_and_what_was_expected(module, input, error, pattern):
    with pytest.raises(error, match=f"{type(module).__name__}: .*{pattern}"):
        module(input)
    assert module.n_recorded == 0
