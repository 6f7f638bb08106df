"""LanguageModel(tie_weights=True): one (V, H) weight shared by the embedding and the output."""

import pytest
import torch

from rnnkit.models.language_model import LanguageModel

V, H = 13, 8


def model(tie=True, **kw):
    torch.manual_seed(0)
    kw = {"wordvec_size": H, "rnn_size": H, "num_layers": 1, **kw}
    return LanguageModel(V, "lstm", tie_weights=tie, **kw)


@pytest.mark.parametrize("output", ["softmax", "nce", "sampled"])
def test_the_two_weights_are_one_parameter(output):
    lm = model(output=output, nce_k=3 if output != "softmax" else 0)
    assert lm.embedding.weight is lm.decoder.weight
    untied = model(tie=False, output=output, nce_k=3 if output != "softmax" else 0)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(lm) == V * H


def test_gradients_from_both_uses_reach_the_shared_weight():
    lm = model()
    x = torch.randint(V, (5, 2))
    lm(x).logsumexp(-1).sum().backward()
    grad = lm.decoder.weight.grad.clone()
    # the same gradient, computed as the sum of the two uses on an untied copy
    untied = model(tie=False)
    state = {k: v for k, v in lm.state_dict().items()}
    untied.load_state_dict(state)
    untied(x).logsumexp(-1).sum().backward()
    both = untied.embedding.weight.grad + untied.decoder.weight.grad
    torch.testing.assert_close(grad, both)
    assert untied.embedding.weight.grad.abs().sum() > 0  # the embedding's share is not zero


def test_training_steps_keep_the_tie():
    lm = model()
    opt = torch.optim.Adam(lm.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        lm(torch.randint(V, (5, 2))).sum().backward()
        opt.step()
    assert torch.equal(lm.embedding.weight, lm.decoder.weight)


def test_a_state_dict_round_trip_keeps_the_tie():
    lm = model()
    with torch.no_grad():
        lm.decoder.weight.add_(1.0)
    clone = LanguageModel(**lm.config())
    clone.load_state_dict(lm.state_dict())
    assert clone.config()["tie_weights"] is True
    assert clone.embedding.weight is clone.decoder.weight
    assert torch.equal(clone.embedding.weight, lm.decoder.weight)
    x = torch.randint(V, (4, 3))
    torch.testing.assert_close(clone(x), lm(x))


def test_sizes_that_differ_are_refused_with_both_values():
    with pytest.raises(ValueError, match="LanguageModel: tie_weights needs wordvec_size == "
                       "rnn_size .*got wordvec_size 6 and rnn_size 8"):  # fmt: skip
        model(wordvec_size=6)


def test_adaptive_and_sparse_softmax_are_refused():
    with pytest.raises(ValueError, match="got output 'adaptive'"):
        model(output="adaptive", adaptive_cutoffs=[4])
    with pytest.raises(ValueError, match="sparse=True needs output 'nce' or 'sampled'"):
        model(sparse=True)


def test_sparse_nce_gives_the_shared_weight_a_sparse_gradient():
    lm = model(output="nce", nce_k=3, sparse=True)
    lm.set_unigrams(torch.ones(V))
    x = torch.randint(V, (4, 2))
    lm(x, x).model_target.sum().backward()
    assert lm.decoder.weight.grad.is_sparse
    assert sum(p is lm.decoder.weight for p in lm.sparse_parameters()) == 1  # listed once
