"""BiSequencerLM: y[t] sees x[<t] (forward half) and x[>t] (backward half), never x[t].

The original's test 13: fwd runs on steps 0..T-2 and is shifted one step later (zeros at
step 0); bwd runs on steps T-1..1 reversed and is shifted one step earlier (zeros at T-1).
"""

import pytest
import torch
from torch.testing import assert_close

from rnnkit import GRU, BiSequencerLM, CAddTable, FastLSTM, SeqLSTM, Sequencer

T, N, D, H = 5, 3, 4, 6
TIGHT = dict(rtol=1e-10, atol=1e-12)


def _manual(fwd, bwd, x, merge=None):
    f = fwd(x[:-1])
    b = bwd(x[1:].flip(0)).flip(0)
    f = torch.cat([torch.zeros_like(f[:1]), f])
    b = torch.cat([b, torch.zeros_like(b[:1])])
    return torch.cat([f, b], -1) if merge is None else merge(f, b)


@pytest.mark.parametrize("t", range(T))
def test_dependency_structure_through_gradients(t, float64):
    lm = BiSequencerLM(FastLSTM(D, H))
    x = torch.randn(T, N, D, requires_grad=True)
    out = lm(x)
    steps = torch.arange(T)
    for half, expected in ((slice(0, H), steps < t), (slice(H, 2 * H), steps > t)):
        (g,) = torch.autograd.grad(out[t, :, half].sum(), x, retain_graph=True)
        used = g.abs().sum((1, 2)) > 0
        assert torch.equal(used, expected), (t, half)
    # Every step except t, between the two halves.
    (g,) = torch.autograd.grad(out[t].sum(), x)
    assert torch.equal(g.abs().sum((1, 2)) > 0, steps != t)


def test_missing_ends_are_zeros(float64):
    lm = BiSequencerLM(GRU(D, H))
    out = lm(torch.randn(T, N, D))
    assert_close(out[0, :, :H], torch.zeros(N, H), rtol=0, atol=0)
    assert_close(out[-1, :, H:], torch.zeros(N, H), rtol=0, atol=0)
    assert out[1:, :, :H].abs().min() > 0 and out[:-1, :, H:].abs().min() > 0


def test_equals_manual_shifted_directions_outputs_and_gradients(float64):
    fwd_step, bwd_step = FastLSTM(D, H), FastLSTM(D, H)
    lm = BiSequencerLM(fwd_step, bwd_step)
    x = torch.randn(T, N, D)
    w = torch.randn(T, N, 2 * H)

    xa = x.clone().requires_grad_()
    out = lm(xa)
    (out * w).sum().backward()
    grads = [p.grad.clone() for p in lm.parameters()]
    lm.zero_grad()

    xb = x.clone().requires_grad_()
    ref = _manual(Sequencer(fwd_step), Sequencer(bwd_step), xb)
    (ref * w).sum().backward()

    assert_close(out, ref, **TIGHT)
    assert_close(xa.grad, xb.grad, **TIGHT)
    for g, p in zip(grads, [*fwd_step.parameters(), *bwd_step.parameters()]):
        assert_close(g, p.grad, **TIGHT)


def test_default_bwd_is_a_fresh_copy(float64):
    fwd_step = FastLSTM(D, H)
    lm = BiSequencerLM(fwd_step)
    bwd_step = lm.bwd.module
    assert bwd_step is not fwd_step
    for p, q in zip(fwd_step.parameters(), bwd_step.parameters()):
        assert p.data_ptr() != q.data_ptr() and not torch.allclose(p, q)
    x = torch.randn(T, N, D)
    assert_close(lm(x), _manual(Sequencer(fwd_step), Sequencer(bwd_step), x), **TIGHT)


def test_merge_module_is_used(float64):
    fwd_step, bwd_step = GRU(D, H), GRU(D, H)
    lm = BiSequencerLM(fwd_step, bwd_step, merge=CAddTable())
    x = torch.randn(T, N, D)
    out = lm(x)
    assert out.shape == (T, N, H)
    ref = _manual(Sequencer(fwd_step), Sequencer(bwd_step), x, merge=lambda f, b: f + b)
    assert_close(out, ref, **TIGHT)


def test_list_input_gives_list_output(float64):
    lm = BiSequencerLM(FastLSTM(D, H))
    x = torch.randn(T, N, D)
    out = lm(list(x.unbind(0)))
    assert isinstance(out, list) and len(out) == T
    assert_close(torch.stack(out), lm(x), **TIGHT)


def test_each_call_starts_from_zero_state(float64):
    lm = BiSequencerLM(FastLSTM(D, H))
    x = torch.randn(T, N, D)
    assert_close(lm(x), lm(x), rtol=0, atol=0)


def test_two_steps_is_the_smallest_sequence(float64):
    fwd_step, bwd_step = FastLSTM(D, H), FastLSTM(D, H)
    x = torch.randn(2, N, D)
    out = BiSequencerLM(fwd_step, bwd_step)(x)
    assert_close(out[0, :, H:], Sequencer(bwd_step)(x[1:])[0], **TIGHT)
    assert_close(out[1, :, :H], Sequencer(fwd_step)(x[:1])[0], **TIGHT)


def test_works_with_seq_lstm(float64):
    fwd, bwd = SeqLSTM(D, H), SeqLSTM(D, H)
    lm = BiSequencerLM(fwd, bwd)
    x = torch.randn(T, N, D)
    assert_close(lm(x), _manual(fwd, bwd, x), **TIGHT)


@pytest.mark.parametrize("as_list", [False, True])
def test_one_step_raises(as_list):
    lm = BiSequencerLM(FastLSTM(D, H))
    x = torch.randn(1, N, D)
    with pytest.raises(
        ValueError, match="BiSequencerLM: expected a sequence of at least 2 steps, got 1"
    ):
        lm(list(x) if as_list else x)
