"""Sampled softmax and sparse gradients: against float64 references of the objectives, and dense."""

import pytest
import torch
from torch.testing import assert_close

from rnnkit import NCECriterion, NCEModule, SampledSoftmaxCriterion
from rnnkit.models import LanguageModel
from rnnkit.training.sparse_grads import LazyAdam, clip_grad_norm, grad_norm

D, V, K, N = 5, 40, 6, 4
COUNTS = torch.arange(1.0, V + 1.0) ** 1.5


def fixed(nce, index):
    nce.sample_noise = lambda shape: index.expand(shape) if len(shape) > 1 else index
    return nce


def sampled_reference(h, target, noise, weight, bias, q):
    """Jean et al.: log-softmax over [target, noise] of ``score - log q``, hits dropped (a loop)."""
    total = 0.0
    for n in range(len(target)):
        words = [int(target[n])] + [int(w) for w in noise if int(w) != int(target[n])]
        s = torch.stack([h[n] @ weight[w] + bias[w] - q[w].log() for w in words])
        total = total - (s[0] - torch.logsumexp(s, 0))
    return total / len(target)


def nce_reference(h, target, noise, weight, bias, q):
    """Mnih & Teh's objective in the probability domain, Z = 1, a loop over rows."""
    k, total = len(noise), 0.0
    for n in range(len(target)):
        pm = lambda w, n=n: torch.exp(h[n] @ weight[w] + bias[w])  # noqa: E731
        t = int(target[n])
        total = total - torch.log(pm(t) / (pm(t) + k * q[t]))
        for w in noise:
            total = total - torch.log(k * q[w] / (pm(w) + k * q[w]))
    return total / len(target)


@pytest.mark.parametrize("criterion", ["sampled", "nce"])
def test_gradients_equal_the_float64_reference_objective(float64, criterion):
    torch.manual_seed(0)
    nce = NCEModule(D, V, COUNTS, k=K, z=1.0, alpha=0.75)
    noise = torch.tensor([3, 7, 7, 1, 39, 0])
    target = torch.tensor([7, 2, 0, 39])  # hits with the noise: rows 0, 2, 3
    fixed(nce, noise)
    h = torch.randn(N, D, requires_grad=True)
    q = nce.log_noise_probs.exp()
    out = nce(h, target)
    if criterion == "sampled":
        loss = SampledSoftmaxCriterion()(out, target, nce.noise_index)
        ref = sampled_reference(h, target, noise, nce.weight, nce.bias, q)
    else:
        loss = NCECriterion()(out)
        ref = nce_reference(h, target, noise, nce.weight, nce.bias, q)
    assert_close(loss, ref)
    grads = torch.autograd.grad(loss, (h, nce.weight, nce.bias))
    ref_grads = torch.autograd.grad(ref, (h, nce.weight, nce.bias))
    for g, r in zip(grads, ref_grads):
        assert_close(g, r)


def test_sampled_softmax_gradcheck(float64):
    torch.manual_seed(1)
    nce = fixed(NCEModule(D, V, COUNTS, k=K, z=1.0), torch.tensor([3, 7, 7, 1, 39, 0]))
    target = torch.tensor([7, 2, 0, 39])
    crit = SampledSoftmaxCriterion()

    def f(h, w, b):
        out = torch.func.functional_call(nce, {"weight": w, "bias": b}, (h, target))
        return crit(out, target, nce.noise_index)

    args = (torch.randn(N, D), nce.weight.detach().clone(), nce.bias.detach().clone())
    assert torch.autograd.gradcheck(f, tuple(a.requires_grad_() for a in args))


def test_sampled_softmax_is_the_full_softmax_when_the_noise_is_every_word_once(float64):
    torch.manual_seed(2)
    nce = fixed(NCEModule(D, V, torch.ones(V), k=V, z=1.0, alpha=1.0), torch.arange(V))
    h, target = torch.randn(N, D), torch.randint(V, (N,))
    loss = SampledSoftmaxCriterion()(nce(h, target), target, nce.noise_index)
    assert_close(loss, torch.nn.functional.cross_entropy(nce(h), target))


@pytest.mark.parametrize("batch_noise", [True, False])
def test_sparse_gradients_equal_the_dense_ones(float64, batch_noise):
    torch.manual_seed(3)
    dense = NCEModule(D, V, COUNTS, k=K, z=1.0)
    sparse = NCEModule(D, V, COUNTS, k=K, z=1.0, sparse=True)
    sparse.load_state_dict(dense.state_dict())
    h, target = torch.randn(2, N, D), torch.randint(V, (2, N))
    for m in (dense, sparse):
        m.batch_noise = batch_noise
        torch.manual_seed(4)
        NCECriterion()(m(h, target)).backward()
    assert sparse.weight.grad.is_sparse and sparse.bias.grad.is_sparse
    assert sparse.weight.grad.coalesce().values().shape[0] <= 2 * N + K * (
        1 if batch_noise else 2 * N
    )
    assert_close(sparse.weight.grad.to_dense(), dense.weight.grad)
    assert_close(sparse.bias.grad.to_dense(), dense.bias.grad)


def _train(model, opt, steps=4, clip=0.5):
    torch.manual_seed(5)
    model.set_unigrams(COUNTS[:30])
    for _ in range(steps):
        x, y = torch.randint(30, (6, 3)), torch.randint(30, (6, 3))
        opt.zero_grad()
        NCECriterion()(model(x, y)).backward()
        clip_grad_norm(list(model.parameters()), clip)
        opt.step()


@pytest.mark.parametrize("output", ["nce", "sampled"])
def test_sparse_and_dense_sgd_give_the_same_parameters(float64, output):
    torch.manual_seed(6)
    make = lambda s: LanguageModel(30, wordvec_size=4, rnn_size=5, num_layers=1, nce_k=5,  # noqa: E731
                                   output=output, sparse=s)  # fmt: skip
    dense, sparse = make(False), make(True)
    sparse.load_state_dict(dense.state_dict())
    assert len(sparse.sparse_parameters()) == 3 and not dense.sparse_parameters()
    for m in (dense, sparse):
        _train(m, torch.optim.SGD(m.parameters(), lr=0.7))
    for (name, a), b in zip(dense.state_dict().items(), sparse.state_dict().values()):
        assert_close(a, b, msg=name)


def test_lazy_adam_equals_adam_on_rows_used_every_step(float64):
    torch.manual_seed(7)
    a, b = torch.randn(6, 3, requires_grad=True), torch.randn(4, requires_grad=True)
    a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    lazy, adam = LazyAdam([a, b], sparse=[a], lr=0.1), torch.optim.Adam([a2, b2], lr=0.1)
    for _ in range(3):
        idx = torch.arange(6)
        for p, q, opt, sp in ((a, b, lazy, True), (a2, b2, adam, False)):
            opt.zero_grad()
            emb = torch.nn.functional.embedding(idx, p, sparse=sp)
            ((emb**2).sum() + (q**3).sum()).backward()
            opt.step()
    # SparseAdam folds the bias correction into the step size: eps enters ~1e-4 differently
    assert_close(a, a2, rtol=1e-3, atol=1e-6)
    assert_close(b, b2)
    state = lazy.state_dict()
    lazy.load_state_dict(state)
    with pytest.raises(ValueError, match="LazyAdam"):
        lazy.load_state_dict(adam.state_dict())


def test_grad_norm_coalesces_duplicate_rows(float64):
    p = torch.zeros(5, 2, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor([1, 1, 3]), p, sparse=True).sum().backward()
    assert grad_norm([p]) == pytest.approx((4 + 4 + 1 + 1) ** 0.5)
