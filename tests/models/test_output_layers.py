"""LanguageModel's output layers: adaptive wiring, NCE/sampled quality on a small corpus, errors."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit import NCECriterion, NCEModule, SampledSoftmaxCriterion
from rnnkit.models import LanguageModel
from rnnkit.models.output_layer import AdaptiveOutput, adaptive_cutoffs

V = 40


def markov_corpus(n, seed=0):
    """A first-order Markov chain over ``V`` words whose successors are peaked (entropy < log V)."""
    g = torch.Generator().manual_seed(seed)
    trans = torch.softmax(3.0 * torch.randn(V, V, generator=g), 1)  # (V, V)
    ids = [0]
    for _ in range(n - 1):
        ids.append(int(torch.multinomial(trans[ids[-1]], 1, generator=g)))
    return torch.tensor(ids)


def batches(ids, T=10, N=16):
    cols = ids[: (len(ids) - 1) // N * N + 1]
    x = cols[:-1].view(N, -1).t()
    y = cols[1:].view(N, -1).t()
    for t in range(0, x.size(0) - T + 1, T):
        yield x[t : t + T], y[t : t + T]


def valid_ppl(model, ids):
    model.eval()
    model.forget()
    total = count = 0.0
    with torch.no_grad():
        for x, y in batches(ids):
            total += F.cross_entropy(model(x).flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
    model.train()
    return torch.tensor(total / count).exp().item()


def train(output, train_ids, epochs=3):
    torch.manual_seed(0)
    model = LanguageModel(V, wordvec_size=16, rnn_size=32, num_layers=1, nce_k=10,
                          output=output, sparse=output in ("nce", "sampled"))  # fmt: skip
    counts = torch.bincount(train_ids, minlength=V).double()
    model.set_unigrams(counts)
    dense = [p for p in model.parameters() if all(p is not q for q in model.sparse_parameters())]
    opts = [torch.optim.Adam(dense, lr=1e-2)]
    if model.sparse_parameters():
        opts.append(torch.optim.SparseAdam(model.sparse_parameters(), lr=1e-2))
    for _ in range(epochs):
        model.forget()
        for x, y in batches(train_ids):
            for o in opts:
                o.zero_grad()
            if output == "softmax":
                loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            elif output == "nce":
                loss = NCECriterion()(model(x, y))
            elif output == "sampled":
                loss = SampledSoftmaxCriterion()(model(x, y), y, model.decoder.noise_index)
            else:
                loss = model(x, y)
            loss.backward()
            for o in opts:
                o.step()
    return model


@pytest.fixture(scope="module")
def corpus():
    ids = markov_corpus(12000)
    return ids[:10000], ids[10000:]


@pytest.fixture(scope="module")
def softmax_ppl(corpus):
    return valid_ppl(train("softmax", corpus[0]), corpus[1])


@pytest.mark.parametrize("output", ["nce", "sampled", "adaptive"])
def test_validation_perplexity_within_15_percent_of_the_softmax(corpus, softmax_ppl, output):
    ppl = valid_ppl(train(output, corpus[0]), corpus[1])
    assert ppl <= 1.15 * softmax_ppl, (output, ppl, softmax_ppl)


def test_adaptive_log_probs_sum_to_one_in_vocabulary_order(float64):
    torch.manual_seed(1)
    counts = torch.randint(1, 100, (V,)).double()
    layer = AdaptiveOutput(6, V, adaptive_cutoffs(counts))
    layer.set_unigrams(counts)
    h, target = torch.randn(3, 5, 6), torch.randint(V, (3, 5))
    log_probs = layer(h)  # (3, 5, V)
    assert log_probs.shape == (3, 5, V)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 5))
    nll = F.nll_loss(log_probs.flatten(0, 1), target.flatten())  # what evaluation reads
    torch.testing.assert_close(layer(h, target), nll)
    # the most frequent words sit in the head
    head = layer.rank[counts.argsort(descending=True)[: layer.adaptive.cutoffs[0]]]
    assert bool((head < layer.adaptive.cutoffs[0]).all())


def test_adaptive_cutoffs_follow_the_counts():
    counts = torch.tensor([50.0, 30, 10, 5, 3, 1, 1, 0])
    assert adaptive_cutoffs(counts) == [2, 4]  # 80 % of the tokens in 2 words, 95 % in 4
    with pytest.raises(ValueError, match="adaptive softmax: expected .* non-negative"):
        adaptive_cutoffs(torch.tensor([1.0, -1, 2, 3]))


def test_errors_name_the_module_and_the_values():
    with pytest.raises(ValueError, match=r"LanguageModel: expected nce_k > 0 .*'sampled', got 0"):
        LanguageModel(V, output="sampled")
    with pytest.raises(ValueError, match="LanguageModel: expected output to be one of"):
        LanguageModel(V, output="hierarchical")
    model = LanguageModel(V, wordvec_size=4, rnn_size=4, num_layers=1, nce_k=3)
    x = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(
        ValueError, match=r"LanguageModel: expected targets in \[0, 39\].*got values in \[0, 40\]"
    ):
        model(x, torch.tensor([[0, 40, 1], [2, 3, 4]]))
    with pytest.raises(ValueError, match=r"LanguageModel: expected targets of shape \(2, 3\)"):
        model(x, torch.zeros(3, 2, dtype=torch.long))
    bad = torch.ones(V)
    bad[7] = -3.0
    message = (
        r"LanguageModel.set_unigrams: NCEModule: expected non-negative finite .* -3.0 for word 7"
    )
    with pytest.raises(ValueError, match=message):
        model.set_unigrams(bad)
    with pytest.raises(ValueError, match="set_unigrams: NCEModule: .*count > 0, got all 40 zero"):
        model.set_unigrams(torch.zeros(V))
    with pytest.raises(ValueError, match="LanguageModel: expected nce_k to be an int >= 0, got -2"):
        LanguageModel(V, nce_k=-2, output="nce")
    with pytest.raises(ValueError, match="NCEModule: expected k to be a positive int, got 0"):
        NCEModule(4, V, torch.ones(V), k=0)


def test_nce_and_sampled_default_to_500_noise_words_and_sparse_rows():
    # The recipe of docs/nce.md: noise shared per batch makes k = 500 cheap; k = 25 trained
    # PTB far worse (docs/results.md). An explicit --nce-k still wins.
    from rnnkit.training.config import TrainConfig

    assert TrainConfig(output="nce").resolved_output() == ("nce", 500, True)
    assert TrainConfig(output="sampled").resolved_output() == ("sampled", 500, True)
    assert TrainConfig(nce_k=30).resolved_output() == ("nce", 30, True)
    assert TrainConfig().resolved_output() == ("softmax", 0, False)
