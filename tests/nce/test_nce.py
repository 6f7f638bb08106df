"""NCEModule and NCECriterion: against the original's closed forms, gradients, noise, learning, errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from rnnkit import (
    MaskZero,
    MaskZeroCriterion,
    NCECriterion,
    NCEModule,
    Sequencer,
    SequencerCriterion,
)
from rnnkit.nce.module import NCEOutput

D, V, K = 6, 30, 7
UNIGRAMS = torch.arange(1.0, V + 1.0) ** 2  # unequal counts, as the original's test


def fixed_noise(nce, index):
    """Make ``nce`` draw ``index`` (K,) every call (the original's tests set ``sampleidx``)."""

    def sample_noise(shape):
        return index.expand(shape) if len(shape) > 1 else index

    nce.sample_noise = sample_noise
    return nce


def reference_output(h, target, noise, weight, bias, log_z, q):
    """The original's table from plain ops: Pm = exp(score) / Z at the sampled columns, Pn = q."""
    scores = h @ weight.t() + bias  # (N, V): the full Linear
    idx = torch.arange(len(target))
    noise = noise.expand(len(target), -1) if noise.dim() == 1 else noise
    return (
        torch.exp(scores[idx, target] - log_z),
        torch.exp(torch.gather(scores, 1, noise) - log_z),
        q[target],
        q[noise],
    )


def original_loss(pmt, pms, pnt, pns, eps=0.0):
    """dpnn's NCECriterion, probability domain (its epsilon was 1e-7)."""
    k = pms.size(1)
    data = torch.log(pmt / (pmt + k * pnt + eps))
    noise = torch.log(k * pns / (pms + k * pns + eps)).sum(1)
    return -(data + noise).mean()


def noise_distribution(alpha):
    q = UNIGRAMS**alpha
    return q / q.sum()


@pytest.mark.parametrize("alpha", [1.0, 0.75])
@pytest.mark.parametrize("batch_noise", [True, False])
def test_outputs_match_the_originals_table(alpha, batch_noise):
    nce = NCEModule(D, V, UNIGRAMS, k=K, z=2.5, alpha=alpha)
    nce.batch_noise = batch_noise
    h, target = torch.randn(5, D), torch.randint(0, V, (5,))
    out = nce(h, target)
    assert isinstance(out, NCEOutput)
    noise = nce.noise_index
    assert noise.shape == ((K,) if batch_noise else (5, K))
    assert ((noise >= 0) & (noise < V)).all()
    expected = reference_output(h, target, noise, nce.weight, nce.bias, math.log(2.5),
                                noise_distribution(alpha))  # fmt: skip
    for got, want in zip(out, expected):
        assert_close(got.exp(), want.float(), rtol=1e-5, atol=1e-7)


def test_loss_and_score_gradients_equal_the_closed_forms(float64):
    n = 4
    h = torch.randn(n, D)
    target = torch.randint(0, V, (n,))
    nce = fixed_noise(NCEModule(D, V, UNIGRAMS, k=K, z=1.3).double(), torch.randint(0, V, (K,)))
    out = nce(h, target)
    pmt, pms, pnt, pns = (t.exp() for t in out)
    loss = NCECriterion()(out, target)
    assert_close(loss, original_loss(pmt, pms, pnt, pns), rtol=1e-12, atol=0)
    assert_close(loss, original_loss(pmt, pms, pnt, pns, eps=1e-7), rtol=1e-4, atol=0)
    # d loss / d score: target -k q / (Pm + k q), noise Pm / (Pm + k q), each / N
    g_target, g_noise = torch.autograd.grad(loss, [out.model_target, out.model_noise])
    assert_close(g_target, -K * pnt / (pmt + K * pnt) / n)
    assert_close(g_noise, pms / (pms + K * pns) / n)
    g_q = torch.autograd.grad(NCECriterion()(nce(h, target)), [nce.weight])[0]
    touched = set(target.tolist()) | set(nce.noise_index.tolist())
    assert set(g_q.abs().sum(1).nonzero().squeeze(1).tolist()) <= touched


def test_criterion_doctest_value_is_a_coin_flip():
    log_q = torch.full((3, 2), math.log(0.1))
    out = NCEOutput(log_q[:, 0] + math.log(2), log_q + math.log(2), log_q[:, 0], log_q)
    # Pm = k q for the target and the noise words: every classification is 1/2
    assert_close(NCECriterion()(out), torch.tensor(3 * math.log(2)))


@pytest.mark.parametrize("batch_noise", [True, False])
def test_gradcheck(float64, batch_noise):
    nce = fixed_noise(NCEModule(D, V, UNIGRAMS, k=3, z=0.7).double(), torch.tensor([4, 9, 4]))
    nce.batch_noise = batch_noise
    target = torch.tensor([4, 0, 29])
    h = torch.randn(3, D, requires_grad=True)

    def loss(h, weight, bias):
        params = {"weight": weight, "bias": bias}
        return NCECriterion()(torch.func.functional_call(nce, params, (h, target)))

    w = nce.weight.detach().clone().requires_grad_()
    b = nce.bias.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(loss, (h, w, b))


def test_batch_noise_and_row_noise_agree_on_the_same_words(float64):
    noise = torch.randint(0, V, (K,))
    h, target = torch.randn(5, D), torch.randint(0, V, (5,))
    results = []
    for batch_noise in (True, False):
        torch.manual_seed(0)
        nce = fixed_noise(NCEModule(D, V, UNIGRAMS, k=K, z=1.0).double(), noise)
        nce.batch_noise = batch_noise
        out = nce(h, target)
        loss = NCECriterion()(out)
        loss.backward()
        results.append((out, loss, nce.weight.grad, nce.bias.grad))
    (a_out, a_loss, a_w, a_b), (b_out, b_loss, b_w, b_b) = results
    for x, y in zip(a_out, b_out):
        assert_close(x, y)
    assert_close(a_loss, b_loss)
    assert_close(a_w, b_w)
    assert_close(a_b, b_b)


def test_noise_follows_unigrams_to_the_alpha_and_skips_unused_words():
    counts = UNIGRAMS.clone()
    counts[[0, 17]] = 0
    nce = NCEModule(D, V, counts, k=K, alpha=0.5)
    draws = nce.sample_noise((400_000,))
    freq = torch.bincount(draws, minlength=V).double() / len(draws)
    q = torch.where(counts > 0, counts.double().sqrt(), torch.zeros(V, dtype=torch.float64))
    assert_close(freq, q / q.sum(), atol=2e-3, rtol=0)
    assert freq[0] == 0 and freq[17] == 0
    assert nce.log_noise_probs[0] == -math.inf


def test_z_is_estimated_once_then_fixed_and_saved():
    nce = NCEModule(D, V, UNIGRAMS, k=K)
    assert nce.z.item() == 0  # not estimated yet
    h, target = torch.randn(8, D), torch.randint(0, V, (8,))
    out = nce(h, target)
    noise_scores = h @ nce.weight[nce.noise_index].t() + nce.bias[nce.noise_index]
    z = noise_scores.detach().double().exp().mean().item() * V
    assert nce.z.item() == pytest.approx(z, rel=1e-6)
    assert_close(out.model_noise, noise_scores - math.log(z))
    nce(10 * h, target)  # other scores: Z stays
    assert nce.z.item() == pytest.approx(z, rel=1e-6)
    copy = NCEModule(D, V, UNIGRAMS, k=K)
    copy.load_state_dict(nce.state_dict())
    assert copy.z.item() == nce.z.item()


def test_initialisation_makes_z_one_self_consistent():
    nce = NCEModule(50, 1000, torch.ones(1000), k=10)
    assert_close(nce.bias, torch.full((1000,), -math.log(1000)))
    assert nce.weight.abs().max() <= 1 / math.sqrt(50)
    assert abs(torch.logsumexp(nce.bias, 0).item()) < 1e-5  # normalised at a zero input


def test_without_target_returns_the_full_log_softmax():
    nce = NCEModule(D, V, UNIGRAMS, k=K).eval()
    h = torch.randn(2, 3, D)
    assert_close(nce(h), F.log_softmax(F.linear(h, nce.weight, nce.bias), -1))
    assert nce(h).shape == (2, 3, V)


def test_leading_dims_are_batch_dims():
    nce = fixed_noise(NCEModule(D, V, UNIGRAMS, k=K, z=1.0), torch.randint(0, V, (K,)))
    h, target = torch.randn(3, 4, D), torch.randint(0, V, (3, 4))
    whole = nce(h, target)
    flat = nce(h.reshape(12, D), target.reshape(12))
    for a, b in zip(whole, flat):
        assert_close(a.reshape(b.shape), b)
    assert_close(NCECriterion()(whole), NCECriterion()(flat))


def test_learns_a_conditional_distribution_and_self_normalises():
    torch.manual_seed(0)
    contexts, vocab = 4, 20
    p_true = torch.distributions.Dirichlet(torch.ones(vocab)).sample((contexts,))  # (C, V)
    nce = NCEModule(contexts, vocab, p_true.mean(0), k=10, z=1.0, alpha=1.0)
    opt = torch.optim.Adam(nce.parameters(), lr=0.05)
    eye = torch.eye(contexts)

    def kl():
        with torch.no_grad():
            return (p_true * (p_true.log() - nce(eye))).sum(1).mean().item()

    before = kl()
    for _ in range(300):
        ctx = torch.randint(0, contexts, (256,))
        y = torch.multinomial(p_true[ctx], 1).squeeze(1)
        loss = NCECriterion()(nce(eye[ctx], y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert before > 0.3 and kl() < 0.08
    with torch.no_grad():  # NCE with Z = 1 learns scores whose exp sums to about 1
        log_norm = torch.logsumexp(F.linear(eye, nce.weight, nce.bias), 1)
    assert log_norm.abs().max() < 0.15


def test_mask_zero_and_sequences_of_pairs():
    nce = fixed_noise(NCEModule(D, V, UNIGRAMS, k=K, z=1.0), torch.randint(0, V, (K,)))
    T, N = 3, 4
    h = torch.randn(T, N, D, requires_grad=True)
    target = torch.randint(0, V, (T, N))
    padded = h * torch.tensor([[1.0, 0, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]])[..., None]
    out = Sequencer(MaskZero(nce, 1))([(padded[t], target[t]) for t in range(T)])
    assert isinstance(out[0], NCEOutput) and (out[0].model_target[1] == 0)
    loss = SequencerCriterion(MaskZeroCriterion(NCECriterion(), 0))(out, list(target.unbind(0)))
    kept = [(0, [0, 2, 3]), (1, [0, 1, 2]), (2, [0, 1, 2, 3])]
    expected = sum(NCECriterion()(nce(h[t, rows], target[t, rows])) for t, rows in kept)
    assert_close(loss, expected)
    loss.backward()
    assert h.grad[0, 1].abs().sum() == 0 and h.grad[1, 3].abs().sum() == 0


def test_dtype_follows_the_module(float64):
    nce = NCEModule(D, V, UNIGRAMS, k=K).float()
    out = nce(torch.randn(2, D, dtype=torch.float32), torch.tensor([1, 2]))
    assert out.model_noise.dtype == torch.float32 and nce.noise_index.max() < V


def test_errors_name_the_module_and_the_shapes():
    nce = NCEModule(D, V, UNIGRAMS, k=K)
    with pytest.raises(
        ValueError, match=r"NCEModule: expected input of shape \(\*, 6\), got \(2, 5\)"
    ):
        nce(torch.randn(2, 5), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"expected target of shape \(2,\).*got \(3,\)"):
        nce(torch.randn(2, D), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"target words in \[0, 29\], got values in \[1, 30\]"):
        nce(torch.randn(2, D), torch.tensor([1, 30]))
    with pytest.raises(TypeError, match="integer indices"):
        nce(torch.randn(2, D), torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="dtype torch.float32"):
        nce(torch.randn(2, D, dtype=torch.float64), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="the pair \\(h, target\\)"):
        nce((torch.randn(2, D),))
    with pytest.raises(ValueError, match=r"unigrams of shape \(30,\).*got \(29,\)"):
        NCEModule(D, V, UNIGRAMS[:-1])
    with pytest.raises(ValueError, match="non-negative"):
        NCEModule(D, V, -UNIGRAMS)
    with pytest.raises(ValueError, match="at least one unigram count > 0"):
        NCEModule(D, V, torch.zeros(V))
    with pytest.raises(TypeError, match="expected unigrams to be a sequence"):
        NCEModule(D, V, "counts")
    for kw, text in ((dict(k=0), "k to be a positive int"), (dict(z=-1.0), "z \\(or None\\) to be a finite number > 0"),
                     (dict(alpha=-0.5), "alpha to be a finite number >= 0")):  # fmt: skip
        with pytest.raises(ValueError, match=text):
            NCEModule(D, V, UNIGRAMS, **kw)
    with pytest.raises(TypeError, match="NCECriterion: expected NCEModule's training output"):
        NCECriterion()(torch.randn(3, V), torch.tensor([1, 2, 3]))
    bad = NCEOutput(torch.zeros(3), torch.zeros(3, K), torch.zeros(2), torch.zeros(3, K))
    with pytest.raises(
        ValueError, match=r"NCECriterion: expected shapes .*got \(3,\), \(3, 7\), \(2,\)"
    ):
        NCECriterion()(bad)


def test_a_loaded_noise_distribution_is_the_one_sampled():
    trained = NCEModule(D, V, UNIGRAMS, k=K)
    fresh = NCEModule(D, V, torch.ones(V), k=K)
    fresh.load_state_dict(trained.state_dict())
    freq = torch.bincount(fresh.sample_noise((200_000,)), minlength=V).double() / 200_000
    assert_close(freq, noise_distribution(0.75).double(), atol=3e-3, rtol=0)
