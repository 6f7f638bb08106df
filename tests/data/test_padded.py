"""Sentences and PaddedBatcher: 0 is padding, tokens 1..V, left/right padding, masking modules."""

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit import (
    FastLSTM,
    LookupTableMaskZero,
    MaskZero,
    MaskZeroCriterion,
    Sequencer,
    SequencerCriterion,
)
from rnnkit.data import PaddedBatcher, Sentences, build_corpus

SEQS = [np.array([4, 1, 2]), np.array([3]), np.array([0, 5, 6, 7]), np.array([2, 2])]


@pytest.mark.parametrize("padding", ["left", "right"])
def test_padding_shift_and_lengths(padding):
    tokens, lengths = next(iter(PaddedBatcher(SEQS, batch_size=4, padding=padding)))
    assert tokens.shape == (4, 4) and tokens.dtype == torch.long  # (T, N)
    assert lengths.tolist() == [3, 1, 4, 2]
    for n, s in enumerate(SEQS):
        column = tokens[:, n]
        real = column[column != 0]
        assert real.tolist() == (s + 1).tolist()  # ids 0..V-1 become 1..V; 0 only pads
        pad = 4 - len(s)
        where = column[:pad] if padding == "left" else column[len(s) :]
        assert (where == 0).all()


def test_next_token_pairs_are_aligned_and_short_sequences_skipped():
    for padding in ("left", "right"):
        batches = list(PaddedBatcher(SEQS, 2, padding=padding, next_token=True, batch_first=True))
        pairs = [(x[n][x[n] != 0], y[n][y[n] != 0]) for x, y in batches for n in range(len(x))]
        assert len(pairs) == 3  # [3] has no target
        for (x, y), s in zip(pairs, [SEQS[0], SEQS[2], SEQS[3]]):
            assert x.tolist() == (s[:-1] + 1).tolist() and y.tolist() == (s[1:] + 1).tolist()
        for x, y in batches:
            assert torch.equal(x == 0, y == 0)  # padded at the same places


def test_shuffle_is_reproducible_and_sort_reduces_padding():
    seqs = [np.arange(n) for n in np.random.default_rng(0).integers(1, 30, size=200)]

    def order(**kw):
        return [tuple(lengths.tolist()) for _, lengths in PaddedBatcher(seqs, 8, **kw)]

    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert order(shuffle=True, generator=g()) == order(shuffle=True, generator=g())
    assert order(shuffle=True, generator=g()) != order()

    def padding(**kw):
        return sum(int((t == 0).sum()) for t, _ in PaddedBatcher(seqs, 8, **kw))

    assert padding(sort_by_length=True) < padding() / 2
    assert len(PaddedBatcher(seqs, 8)) == 25


def test_sentences_of_a_corpus_cover_every_token_once_as_target(tmp_path):
    corpus = build_corpus("the cat sat\nthe dog\nran\n" * 20, "word", tmp_path, valid_frac=0.1,
                          test_frac=0.1, min_count=1)  # fmt: skip
    ids = corpus.splits["train"]
    eos = corpus.vocab.index("<eos>")
    sentences = Sentences(ids, eos)
    assert len(sentences) == 48 and sentences[0].tolist() == ids[:4].tolist()
    assert sentences[1][0] == eos  # starts with the <eos> that ended the previous line
    targets = sum(len(s) - 1 for s in sentences)
    assert targets == len(ids) - 1  # as many targets as the BPTT streams of one stream
    plain = Sentences(ids, eos, with_previous_eos=False)
    assert sum(len(s) for s in plain) == len(ids) and plain[1][0] != eos


def test_a_padded_language_model_trains_with_the_masking_modules():
    V, E, H = 12, 6, 8
    seqs = [np.random.default_rng(i).integers(0, V, size=n) for i, n in enumerate([5, 3, 7, 2])]
    model = Sequencer(nn.Sequential(LookupTableMaskZero(V, E), FastLSTM(E, H).mask_zero(1),
                                    MaskZero(nn.Linear(H, V + 1), 1),
                                    MaskZero(nn.LogSoftmax(dim=-1), 1)))  # fmt: skip
    criterion = SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(), 1))
    for padding in ("left", "right"):
        x, y = next(iter(PaddedBatcher(seqs, 4, padding=padding, next_token=True)))
        out = model(x)  # (T, N, V + 1)
        assert torch.equal(out[x == 0], torch.zeros(int((x == 0).sum()), V + 1))
        loss = criterion(out, y)
        loss.backward()
        assert torch.isfinite(loss)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((SEQS, 0), {}, "batch_size >= 1"),
        ((SEQS, 2), {"padding": "middle"}, "padding 'left' or 'right'"),
        (([np.array([1])], 2), {"next_token": True}, "at least one sequence of 2 or more tokens"),
    ],
)
def test_errors_name_the_class(args, kwargs, match):
    with pytest.raises(ValueError, match=f"PaddedBatcher: expected {match}"):
        PaddedBatcher(*args, **kwargs)
