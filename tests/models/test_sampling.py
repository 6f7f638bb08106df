"""rnnkit.models.sampling: temperature, top-k and top-p against the reference, and the draws."""

import pytest
import torch
from reference.sampling import filtered_row

from rnnkit.models.sampling import filtered_probs, sample_next


def _scores(seed, N=6, V=9):
    return torch.randn(N, V, generator=torch.Generator().manual_seed(seed)) * 2


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("k", [0, 1, 3, 9, 20])
@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 1.0])
def test_filtered_probs_equal_the_reference(temperature, k, p):
    scores = _scores(k * 10 + int(p * 100))
    got = filtered_probs(scores, temperature, k, p)
    expected = torch.tensor([filtered_row(r, temperature, k, p) for r in scores.tolist()])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert torch.allclose(got.sum(1), torch.ones(len(scores)))


def test_top_k_keeps_exactly_the_k_largest():
    scores = _scores(1, N=20, V=30)
    probs = filtered_probs(scores, top_k=4)
    assert ((probs > 0).sum(1) == 4).all()
    top = scores.topk(4, dim=1).indices
    assert (probs.gather(1, top) > 0).all()
    tied = torch.zeros(3, 8)  # ties: still exactly k
    assert ((filtered_probs(tied, top_k=5) > 0).sum(1) == 5).all()


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    scores = probs.log()
    for p, kept in [(0.4, 1), (0.6, 2), (0.79, 2), (0.81, 3), (0.96, 4), (1e-9, 1)]:
        got = filtered_probs(scores, top_p=p)
        assert int((got > 0).sum()) == kept, p
        assert float(probs[got > 0].sum()) >= p  # reaches p ...
        if kept > 1:  # ... and one token fewer would not
            assert float(probs[0, : kept - 1].sum()) < p
    # a dominant token is always kept alone, never an empty set
    assert int((filtered_probs(torch.tensor([[30.0, 0.0, 0.0]]), top_p=0.5) > 0).sum()) == 1


def test_draws_follow_the_filtered_distribution():
    row = torch.tensor([2.0, 1.5, 1.0, 0.2, -1.0, -3.0])
    n = 40_000
    scores = row.expand(n, -1)  # n independent draws in one call
    probs = filtered_probs(row[None], 0.8, 4, 0.9)[0]
    tokens = sample_next(scores, 0.8, 4, 0.9, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(tokens, minlength=6).double() / n
    assert tokens.shape == (n,) and tokens.dtype == torch.long
    assert (freq[probs == 0] == 0).all()  # nothing outside the kept set
    torch.testing.assert_close(freq, probs.double(), atol=0.01, rtol=0)  # ~4 sigma at n=40k


def test_a_seed_gives_the_same_tokens():
    scores = _scores(3, N=50)
    a = sample_next(scores, top_p=0.9, generator=torch.Generator().manual_seed(7))
    b = sample_next(scores, top_p=0.9, generator=torch.Generator().manual_seed(7))
    c = sample_next(scores, top_p=0.9, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kw, message", [
    ({"top_k": -1}, "sample_next: expected top_k to be an int >= 0, got -1"),
    ({"top_k": 2.5}, "sample_next: expected top_k to be an int >= 0, got 2.5"),
    ({"top_p": 0.0}, r"sample_next: expected top_p to be a number in \(0, 1\], got 0.0"),
    ({"top_p": 1.5}, r"sample_next: expected top_p to be a number in \(0, 1\], got 1.5"),
    ({"temperature": 0.0}, "sample_next: expected temperature to be a finite number > 0, got 0.0"),
    ({"temperature": -1}, "sample_next: expected temperature to be a finite number > 0, got -1"),
])  # fmt: skip
def test_bad_filters_name_the_function_and_the_value(kw, message):
    with pytest.raises(ValueError, match=message):
        sample_next(torch.zeros(2, 3), **kw)


def test_bad_scores_are_refused():
    with pytest.raises(ValueError, match=r"filtered_probs: expected floating scores of shape \(N, V\)"):
        filtered_probs(torch.zeros(3))
