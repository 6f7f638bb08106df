"""SeqBRNN: merge(fwd(x), reverse(bwd(reverse(x)))) with two SeqLSTMs (the original's 43-45)."""

import pytest
import torch
from torch.testing import assert_close

from rnnkit import JoinTable, SeqBRNN, SeqLSTM

T, N, D, H = 5, 3, 4, 6
EXACT = dict(rtol=0, atol=0)
TIGHT = dict(rtol=1e-10, atol=1e-12)


def test_sum_of_fwd_and_reversed_bwd_exactly(float64):
    # The original's test 43 (tolerance 0).
    brnn = SeqBRNN(D, H)
    assert isinstance(brnn.fwd, SeqLSTM) and isinstance(brnn.bwd, SeqLSTM)
    assert not torch.allclose(brnn.fwd.weight_ih, brnn.bwd.weight_ih)
    x = torch.randn(T, N, D)
    out = brnn(x)
    assert out.shape == (T, N, H)
    assert_close(out, brnn.fwd(x) + brnn.bwd(x.flip(0)).flip(0), **EXACT)


def test_join_table_merge_concatenates(float64):
    # The original's test 44.
    brnn = SeqBRNN(D, H, merge=JoinTable(-1))
    x = torch.randn(T, N, D)
    out = brnn(x)
    assert out.shape == (T, N, 2 * H)
    assert_close(out, torch.cat([brnn.fwd(x), brnn.bwd(x.flip(0)).flip(0)], -1), **EXACT)


def test_batch_first(float64):
    # The original's test 45.
    brnn = SeqBRNN(D, H, batch_first=True)
    assert brnn.fwd.batch_first and brnn.bwd.batch_first
    x = torch.randn(N, T, D)
    out = brnn(x)
    assert out.shape == (N, T, H)
    assert_close(out, brnn.fwd(x) + brnn.bwd(x.flip(1)).flip(1), **EXACT)
    tm = SeqBRNN(D, H)
    tm.load_state_dict(brnn.state_dict())
    assert_close(out, tm(x.transpose(0, 1)).transpose(0, 1), **TIGHT)


def test_gradients_flow_to_both_directions(float64):
    brnn = SeqBRNN(D, H)
    x = torch.randn(T, N, D, requires_grad=True)
    brnn(x)[0].sum().backward()  # the first step sees every step through bwd
    assert (x.grad.abs().sum((1, 2)) > 0).all()
    assert brnn.fwd.weight_ih.grad.abs().sum() > 0 and brnn.bwd.weight_ih.grad.abs().sum() > 0


def test_gradcheck(float64):
    brnn = SeqBRNN(2, 3, merge=JoinTable(-1))
    x = torch.randn(3, 2, 2, requires_grad=True)
    assert torch.autograd.gradcheck(brnn, (x,))


@pytest.mark.parametrize("batch_first", [False, True])
def test_maskzero_reaches_both_directions(batch_first, float64):
    # The original did not pass maskzero on (its issue 362). With it, each padded row equals
    # the row run alone: the backward direction starts at the row's last real step.
    brnn = SeqBRNN(D, H, batch_first, merge=JoinTable(-1), maskzero=True)
    assert brnn.fwd.maskzero and brnn.bwd.maskzero
    lengths, starts = [5, 3, 2, 0], [0, 0, 2, 0]  # full, right-padded, both sides, empty
    x = torch.randn(T, len(lengths), D)
    for i, (s, n) in enumerate(zip(starts, lengths)):
        x[:s, i] = 0
        x[s + n :, i] = 0
    time = 1 if batch_first else 0
    out = brnn(x.transpose(0, 1) if batch_first else x)
    out = out.transpose(0, 1) if batch_first else out
    for i, (s, n) in enumerate(zip(starts, lengths)):
        expected = torch.zeros(T, 1, 2 * H)
        if n:
            row = x[s : s + n, i : i + 1]
            alone = brnn(row.transpose(0, 1) if batch_first else row)
            expected[s : s + n] = alone.transpose(0, 1) if time else alone
        assert_close(out[:, i : i + 1], expected, **TIGHT)
