"""BiSequencer: y[t] = merge(fwd(x)[t], reverse(bwd(reverse(x)))[t]) (the original's test 12)."""

import pytest
import torch
from torch.testing import assert_close

from rnnkit import GRU, BiSequencer, CAddTable, FastLSTM, SeqLSTM, Sequencer

T, N, D, H = 4, 3, 5, 6
TIGHT = dict(rtol=1e-10, atol=1e-12)


def _manual(fwd, bwd, x, merge=None):
    """Forward Sequencer + backward Sequencer on the reversed sequence, re-reversed, merged."""
    f = fwd(x)
    b = bwd(x.flip(0)).flip(0)
    return torch.cat([f, b], -1) if merge is None else merge(f, b)


def test_equals_manual_fwd_and_reversed_bwd_outputs_and_gradients(float64):
    fwd_step, bwd_step = FastLSTM(D, H), FastLSTM(D, H)
    bi = BiSequencer(fwd_step, bwd_step)
    assert bi.fwd.module is fwd_step and bi.bwd.module is bwd_step
    x = torch.randn(T, N, D)
    w = torch.randn(T, N, 2 * H)

    xa = x.clone().requires_grad_()
    out = bi(xa)
    (out * w).sum().backward()
    grads = [p.grad.clone() for p in bi.parameters()]
    bi.zero_grad()

    xb = x.clone().requires_grad_()
    ref = _manual(Sequencer(fwd_step), Sequencer(bwd_step), xb)
    (ref * w).sum().backward()

    assert out.shape == (T, N, 2 * H)
    assert_close(out, ref, **TIGHT)
    assert_close(xa.grad, xb.grad, **TIGHT)  # the sum of both directions' contributions
    for g, p in zip(grads, [*fwd_step.parameters(), *bwd_step.parameters()]):
        assert_close(g, p.grad, **TIGHT)
    # The forward features come first.
    assert_close(out[..., :H], Sequencer(fwd_step)(x), **TIGHT)


def test_output_at_every_step_depends_on_every_input_step(float64):
    bi = BiSequencer(GRU(D, H))
    for t in range(T):
        x = torch.randn(T, N, D, requires_grad=True)
        for half in (slice(0, H), slice(H, 2 * H)):
            (g,) = torch.autograd.grad(bi(x)[t, :, half].sum(), x)
            used = g.abs().sum((1, 2)) > 0
            expected = torch.arange(T) <= t if half.start == 0 else torch.arange(T) >= t
            assert torch.equal(used, expected), (t, half)


def test_default_bwd_is_a_fresh_copy_with_own_parameters_and_state(float64):
    fwd_step = FastLSTM(D, H)
    bi = BiSequencer(fwd_step)
    bwd_step = bi.bwd.module
    assert isinstance(bwd_step, FastLSTM) and bwd_step is not fwd_step
    for p, q in zip(fwd_step.parameters(), bwd_step.parameters()):
        assert p.shape == q.shape
        assert p.data_ptr() != q.data_ptr()
        assert not torch.allclose(p, q)
    x = torch.randn(T, N, D)
    bi(x)
    assert not torch.allclose(fwd_step.get_state()[0], bwd_step.get_state()[0])
    assert_close(bi(x), _manual(Sequencer(fwd_step), Sequencer(bwd_step), x), **TIGHT)


def test_merge_module_is_used(float64):
    fwd_step, bwd_step = GRU(D, H), GRU(D, H)
    bi = BiSequencer(fwd_step, bwd_step, merge=CAddTable())
    x = torch.randn(T, N, D)
    out = bi(x)
    assert out.shape == (T, N, H)
    ref = _manual(Sequencer(fwd_step), Sequencer(bwd_step), x, merge=lambda f, b: f + b)
    assert_close(out, ref, **TIGHT)


def test_list_input_gives_list_output(float64):
    bi = BiSequencer(FastLSTM(D, H))
    x = torch.randn(T, N, D)
    out = bi(list(x.unbind(0)))
    assert isinstance(out, list) and len(out) == T
    assert_close(torch.stack(out), bi(x), **TIGHT)


def test_batch_first_equals_transposed(float64):
    fwd_step, bwd_step = FastLSTM(D, H), FastLSTM(D, H)
    x = torch.randn(T, N, D)
    out = BiSequencer(fwd_step, bwd_step, batch_first=True)(x.transpose(0, 1))
    assert out.shape == (N, T, 2 * H)
    assert_close(out.transpose(0, 1), BiSequencer(fwd_step, bwd_step)(x), **TIGHT)


def test_remember_affects_fwd_only(float64):
    bi = BiSequencer(FastLSTM(D, H))
    assert bi.remember("both") is bi
    assert bi.fwd.remember_mode == "both"
    assert bi.bwd.remember_mode == "neither"  # carrying bwd state would leak the future
    x = torch.randn(T, N, D)
    first, second = bi(x), bi(x)
    assert not torch.allclose(second[..., :H], first[..., :H])
    assert_close(second[..., H:], first[..., H:], **TIGHT)
    bi.forget()
    assert_close(bi(x), first, **TIGHT)


def test_bwd_state_is_not_carried_even_if_bwd_remembers(float64):
    bwd = Sequencer(FastLSTM(D, H)).remember("both")
    bi = BiSequencer(FastLSTM(D, H), bwd)
    x = torch.randn(T, N, D)
    assert_close(bi(x)[..., H:], bi(x)[..., H:], **TIGHT)


def test_works_with_seq_lstm_as_fwd(float64):
    fwd = SeqLSTM(D, H)
    bi = BiSequencer(fwd)
    assert bi.fwd is fwd and isinstance(bi.bwd, SeqLSTM) and bi.bwd is not fwd
    assert not torch.allclose(bi.bwd.weight_ih, fwd.weight_ih)
    x = torch.randn(T, N, D, requires_grad=True)
    out = bi(x)
    assert_close(out, _manual(fwd, bi.bwd, x), **TIGHT)
    out.sum().backward()
    assert fwd.weight_ih.grad.abs().sum() > 0 and bi.bwd.weight_ih.grad.abs().sum() > 0


def test_seq_lstm_fwd_remembers_and_bwd_does_not(float64):
    bi = BiSequencer(SeqLSTM(D, H)).remember("both")
    x = torch.randn(T, N, D)
    first, second = bi(x), bi(x)
    assert not torch.allclose(second[..., :H], first[..., :H])
    assert_close(second[..., H:], first[..., H:], **TIGHT)


def test_forget_resets_a_remembering_seq_lstm_fwd(float64):
    bi = BiSequencer(SeqLSTM(D, H)).remember("both")
    x = torch.randn(T, N, D)
    first = bi(x)
    bi(x)
    bi.forget()
    assert_close(bi(x), first, **TIGHT)


def test_bad_input_raises_naming_the_module():
    bi = BiSequencer(FastLSTM(D, H))
    with pytest.raises(
        ValueError, match=r"BiSequencer: expected input to be a \(T, N, \*\) tensor"
    ):
        bi(torch.randn(D))
    with pytest.raises(TypeError, match="BiSequencer: expected input to be a tensor or a list"):
        bi("not a sequence")
