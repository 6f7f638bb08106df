"""A padded language model: LookupTableMaskZero → masked step module → MaskZero(Linear, LogSoftmax).

With ``SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(), 1))`` the loss of a padded batch is
``Σ_t (1/k_t) Σ_{i real at t} ℓ[i, t]``, where ``k_t`` is the number of real rows at padded
step ``t`` (NLLLoss averages over the kept rows of each step) and ``ℓ[i, t]`` is the token
loss of sequence ``i`` run alone, unpadded. Its parameter gradients are the gradients of that
weighted sum of per-sequence losses.
"""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import (
    GRU,
    LSTM,
    FastLSTM,
    LookupTableMaskZero,
    MaskZero,
    MaskZeroCriterion,
    MuFuRu,
    Sequencer,
    SequencerCriterion,
)

V, E, H = 7, 5, 6
C = V + 1  # classes 0..V
TOL = dict(rtol=1e-10, atol=1e-12)
CELLS = {"FastLSTM": FastLSTM, "GRU": GRU, "LSTM": LSTM, "MuFuRu": MuFuRu}
PAD_TARGET = 10**6  # never a valid class: it would raise if a padded target reached NLLLoss


def build(cell, mode):
    """The masked model and an unmasked reference with the same parameters."""
    parts = [LookupTableMaskZero(V, E), CELLS[cell](E, H), nn.Linear(H, C), nn.LogSoftmax(-1)]
    ref = nn.Sequential(*parts).double()
    with torch.no_grad():  # as the original's examples do; the padding row becomes non-zero
        for p in ref.parameters():
            p.uniform_(-0.1, 0.1)
    emb, step, lin, logsm = copy.deepcopy(ref)
    masked = nn.Sequential(emb, getattr(step, mode)(1), MaskZero(lin, 1), MaskZero(logsm, 1))
    return Sequencer(masked), Sequencer(ref), masked, ref


def padded_batch(lengths, side, T):
    idx = torch.zeros(T, len(lengths), dtype=torch.long)
    target = torch.full((T, len(lengths)), PAD_TARGET)
    seqs, where = [], []
    for i, L in enumerate(lengths):
        tokens, tgt = torch.randint(1, V + 1, (L,)), torch.randint(0, C, (L,))
        sl = slice(0, L) if side == "right" else slice(T - L, T)
        idx[sl, i], target[sl, i] = tokens, tgt
        seqs.append((tokens, tgt))
        where.append(sl)
    return idx, target, seqs, where


def sgd_step(params, lr):
    """A plain SGD step (torch.optim's first use costs seconds of imports)."""
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
                p.grad = None


def grads(module):
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("mode", ["mask_zero", "trim_zero"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_padded_loss_and_gradients_equal_per_sequence_runs(cell, mode, side):
    model, ref_model, masked, ref = build(cell, mode)
    lengths = [4, 1, 0, 3, 2]
    T = max(lengths) + 1  # the last (or first) step is padding in every row
    idx, target, seqs, where = padded_batch(lengths, side, T)
    crit = SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(), 1))
    out = model(idx)
    loss = crit(out, target)
    loss.backward()

    real = idx > 0
    assert torch.equal(out[~real], torch.zeros(int((~real).sum()), C, dtype=torch.float64))
    k = real.sum(1).to(torch.float64)  # real rows per padded step
    expected = 0.0
    for i, ((tokens, tgt), sl) in enumerate(zip(seqs, where)):
        if len(tokens) == 0:
            continue
        logp = ref_model(tokens.unsqueeze(1)).squeeze(1)
        assert_close(out[sl, i], logp, **TOL)
        token_loss = nn.functional.nll_loss(logp, tgt, reduction="none")
        seq_loss = (token_loss / k[sl]).sum()
        seq_loss.backward()
        expected = expected + seq_loss.detach()
    assert torch.isfinite(loss)
    assert_close(loss.detach(), expected, **TOL)
    for g, g_ref in zip(grads(masked), grads(ref)):
        assert_close(g, g_ref, **TOL)
    assert torch.equal(masked[0].weight.grad[0], torch.zeros(E, dtype=torch.float64))


@pytest.mark.parametrize("mode", ["mask_zero", "trim_zero"])
def test_summed_loss_is_the_sum_of_per_sequence_losses(mode):
    model, ref_model, masked, ref = build("FastLSTM", mode)
    idx, target, seqs, _ = padded_batch([3, 5, 1], "left", 6)
    loss = SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(reduction="sum"), 1))(model(idx), target)
    loss.backward()
    ref_crit = SequencerCriterion(nn.NLLLoss(reduction="sum"))
    expected = 0.0
    for tokens, tgt in seqs:
        seq_loss = ref_crit(ref_model(tokens.unsqueeze(1)), tgt.unsqueeze(1))
        seq_loss.backward()
        expected = expected + seq_loss.detach()
    assert_close(loss.detach(), expected, **TOL)
    for g, g_ref in zip(grads(masked), grads(ref)):
        assert_close(g, g_ref, **TOL)


def test_amount_of_padding_does_not_matter():
    model, _, masked, _ = build("GRU", "mask_zero")
    idx, target, _, _ = padded_batch([2, 4, 3], "left", 4)
    crit = SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(reduction="sum"), 1))
    results = []
    for extra in (0, 3):
        pad_idx = torch.cat([torch.zeros(extra, 3, dtype=torch.long), idx])
        pad_tgt = torch.cat([torch.full((extra, 3), PAD_TARGET), target])
        masked.zero_grad()
        loss = crit(model(pad_idx), pad_tgt)
        loss.backward()
        results.append((loss.detach(), grads(masked)))
    assert_close(results[1][0], results[0][0], **TOL)
    for a, b in zip(results[1][1], results[0][1]):
        assert_close(a, b, **TOL)


@pytest.mark.parametrize("mode", ["mask_zero", "trim_zero"])
def test_all_padding_batch_gives_zero_loss_and_zero_gradients(mode):
    model, _, masked, _ = build("FastLSTM", mode)
    idx = torch.zeros(3, 2, dtype=torch.long)
    crit = SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(), 1))
    loss = crit(model(idx), torch.full((3, 2), PAD_TARGET))
    loss.backward()
    assert loss.item() == 0.0
    for g in grads(masked):
        assert torch.equal(g, torch.zeros_like(g))


def test_training_on_padded_batches_matches_per_sequence_training():
    model, ref_model, masked, ref = build("GRU", "trim_zero")
    crit = SequencerCriterion(MaskZeroCriterion(nn.NLLLoss(reduction="sum"), 1))
    ref_crit = SequencerCriterion(nn.NLLLoss(reduction="sum"))
    for _ in range(3):
        idx, target, seqs, _ = padded_batch([3, 0, 5, 1], "right", 5)
        crit(model(idx), target).backward()
        for tokens, tgt in seqs:
            if len(tokens):
                ref_crit(ref_model(tokens.unsqueeze(1)), tgt.unsqueeze(1)).backward()
        sgd_step(masked.parameters(), 0.1)
        sgd_step(ref.parameters(), 0.1)
    for p, p_ref in zip(masked.parameters(), ref.parameters()):
        assert_close(p, p_ref, **TOL)
