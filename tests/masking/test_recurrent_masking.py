"""mask_zero / trim_zero on step modules: padding is ignored, a zero row resets that row's state.

The reference for a padded batch is the same module, without masking, run on each sequence
alone and unpadded; every comparison is in float64 with a tight tolerance.
"""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from rnnkit import (
    GRU,
    LSTM,
    CAddTable,
    FastLSTM,
    MuFuRu,
    ParallelTable,
    Recurrence,
    Recurrent,
    Recursor,
    Sequencer,
)

D, H = 3, 4
F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def simple_rnn():
    step = ParallelTable(
        nn.Linear(D, H), nn.Linear(H, H), merge=nn.Sequential(CAddTable(), nn.Tanh())
    )
    return Recurrence(step, H, 1)


MAKERS = {
    "FastLSTM": lambda: FastLSTM(D, H),
    "LSTM": lambda: LSTM(D, H),
    "GRU": lambda: GRU(D, H),
    "GRU_reset_after": lambda: GRU(D, H, reset_after=True),
    "MuFuRu": lambda: MuFuRu(D, H),
    "Recurrence": simple_rnn,
    "Recursor": lambda: Recursor(nn.Sequential(nn.Linear(D, 5), FastLSTM(5, H))),
}
KINDS = list(MAKERS)
MODES = ["mask_zero", "trim_zero"]


def masked_and_reference(kind, mode):
    """A masked step module and an unmasked copy with the same parameters."""
    ref = MAKERS[kind]().double()
    module = copy.deepcopy(ref)
    assert getattr(module, mode)(1) is module
    return module, ref


def grads(module):
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in module.parameters()]


def pad(seqs, T, side):
    """Time-major (T, N, D) batch and, per sequence, the slice of steps it occupies."""
    x = torch.zeros(T, len(seqs), D, dtype=F64)
    where = []
    for i, s in enumerate(seqs):
        sl = slice(0, len(s)) if side == "right" else slice(T - len(s), T)
        x[sl, i] = s
        where.append(sl)
    return x, where


def check_padded_equals_unpadded(module, ref, lengths, side, extra_steps=0):
    T = max(lengths) + extra_steps
    seqs = [torch.randn(L, D, dtype=F64) for L in lengths]
    x, where = pad(seqs, T, side)
    x.requires_grad_()
    w = torch.randn(T, len(lengths), H, dtype=F64)
    out = Sequencer(module)(x)
    # Weights on the padded positions too: they must not reach anything.
    (out * w).sum().backward()

    padded = torch.ones(T, len(lengths), dtype=torch.bool)
    ref_seq = Sequencer(ref)
    for i, (s, sl) in enumerate(zip(seqs, where)):
        padded[sl, i] = False
        if len(s) == 0:
            continue
        xi = s.clone().requires_grad_()
        oi = ref_seq(xi.unsqueeze(1)).squeeze(1)
        (oi * w[sl, i]).sum().backward()  # parameter gradients accumulate over sequences
        assert_close(out[sl, i], oi, **TOL)
        assert_close(x.grad[sl, i], xi.grad, **TOL)
    assert torch.equal(out[padded], torch.zeros_like(out[padded]))
    assert torch.equal(x.grad[padded], torch.zeros_like(x.grad[padded]))
    for g, g_ref in zip(grads(module), grads(ref)):
        assert torch.isfinite(g).all()
        assert_close(g, g_ref, **TOL)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_padded_batch_equals_sequences_run_alone(kind, mode, side):
    module, ref = masked_and_reference(kind, mode)
    # lengths 1 and 0 (an all-padding row), plus a step that is padding in every row
    check_padded_equals_unpadded(module, ref, [3, 1, 0, 5, 2], side, extra_steps=1)


@pytest.mark.parametrize("kind", ["FastLSTM", "GRU"])
@settings(max_examples=20, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 6), min_size=1, max_size=5).filter(lambda ls: max(ls) > 0),
    extra=st.integers(0, 2),
    side=st.sampled_from(["left", "right"]),
    mode=st.sampled_from(MODES),
)
def test_padded_batch_equals_sequences_run_alone_property(kind, lengths, extra, side, mode):
    module, ref = masked_and_reference(kind, mode)
    check_padded_equals_unpadded(module, ref, lengths, side, extra_steps=extra)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_zero_step_mid_stream_resets_only_that_row(kind, mode):
    module, ref = masked_and_reference(kind, mode)
    T, N, gap, row = 7, 4, 3, 1
    x = torch.randn(T, N, D, dtype=F64)
    z = x.clone()
    z[gap, row] = 0
    w = torch.randn(T, N, H, dtype=F64)
    out = Sequencer(module)(z)
    (out * w).sum().backward()

    others = [r for r in range(N) if r != row]
    ref_seq = Sequencer(ref)
    pieces = [
        (slice(None), others),  # the other rows: as if the zero step were not there
        (slice(0, gap), [row]),  # the row before the zero step
        (slice(gap + 1, T), [row]),  # the row after it: a fresh sequence
    ]
    for steps, rows in pieces:
        o = ref_seq(x[steps][:, rows])
        (o * w[steps][:, rows]).sum().backward()
        assert_close(out[steps][:, rows], o, **TOL)
    assert torch.equal(out[gap, row], torch.zeros(H, dtype=F64))
    for g, g_ref in zip(grads(module), grads(ref)):
        assert_close(g, g_ref, **TOL)


def test_zero_step_by_hand_equals_forget_then_continue():
    lstm, ref = masked_and_reference("FastLSTM", "mask_zero")
    x = torch.randn(6, 1, D, dtype=F64)
    outs = []
    for t in range(6):
        outs.append(lstm(torch.zeros(1, D, dtype=F64) if t == 2 else x[t]))
    h, c = lstm.get_state()
    expected = [ref(x[t]) for t in range(2)]
    ref.forget()
    expected += [torch.zeros(1, H, dtype=F64)] + [ref(x[t]) for t in range(3, 6)]
    assert_close(torch.stack(outs), torch.stack(expected), **TOL)
    assert_close(h, ref.get_state()[0], **TOL)
    assert_close(c, ref.get_state()[1], **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_unmasked_rows_unchanged_by_masking(mode):
    module, ref = masked_and_reference("LSTM", mode)
    x = torch.randn(5, 3, D, dtype=F64)
    assert_close(Sequencer(module)(x), Sequencer(ref)(x), rtol=0, atol=0)


class _CatLSTM(nn.Module):
    """A Recurrence step function that nests a step module: FastLSTM([x, y_prev])."""

    def __init__(self):
        super().__init__()
        self.lstm = FastLSTM(D + H, H)

    def forward(self, x, y_prev):
        return self.lstm(torch.cat([x, y_prev], -1))


CONTAINERS = {
    "Recursor": lambda: Recursor(nn.Sequential(nn.Linear(D, 5), nn.Tanh(), FastLSTM(5, H))),
    "Recurrence": lambda: Recurrence(_CatLSTM(), H, 1),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CONTAINERS))
def test_container_resets_nested_state_of_padded_rows(name, mode):
    ref = CONTAINERS[name]().double()
    module = getattr(copy.deepcopy(ref), mode)(1)
    inner = [m for m in module.modules() if isinstance(m, FastLSTM)][0]
    x = torch.randn(5, 3, D, dtype=F64)
    x[2, 0] = 0
    outs = [module(x[t]) for t in range(3)]
    h, c = inner.get_state()
    assert torch.equal(outs[2][0], torch.zeros(H, dtype=F64))
    for s in (h, c):  # the padded row's nested state is reset, the others are not
        assert torch.equal(s[0], torch.zeros(H, dtype=F64))
        assert (s[1:].abs() > 0).all()
    outs += [module(x[t]) for t in range(3, 5)]
    assert_close(torch.stack(outs[3:])[:, 0], Sequencer(ref)(x[3:, :1])[:, 0], **TOL)
    assert_close(torch.stack(outs)[:, 1:], Sequencer(ref)(x[:, 1:]), **TOL)


def test_recurrence_on_indices_masks_index_zero():
    step = ParallelTable(
        nn.Embedding(9, H), nn.Linear(H, H), merge=nn.Sequential(CAddTable(), nn.Tanh())
    )
    ref = Recurrence(step, H, 0).double()
    rnn = copy.deepcopy(ref).mask_zero(0)
    idx = torch.tensor([[3, 4], [0, 5], [2, 0], [7, 1]])
    out = Sequencer(rnn)(idx)
    assert torch.equal(out[1, 0], torch.zeros(H, dtype=F64))
    assert torch.equal(out[2, 1], torch.zeros(H, dtype=F64))
    assert_close(out[2:, 0], Sequencer(ref)(idx[2:, :1])[:, 0], **TOL)
    assert_close(out[3:, 1], Sequencer(ref)(idx[3:, 1:])[:, 0], **TOL)


def test_recurrence_with_tuple_input_masks_by_first_tensor():
    class Step(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.h = nn.Linear(D, H), nn.Linear(2, H), nn.Linear(H, H)

        def forward(self, x, y):
            return torch.tanh(self.a(x[0]) + self.b(x[1]) + self.h(y))

    ref = Recurrence(Step(), H, 1).double()
    rnn = copy.deepcopy(ref).mask_zero(1)
    a, b = torch.randn(4, 3, D, dtype=F64), torch.randn(4, 3, 2, dtype=F64)
    a[1, 0] = 0  # first tensor zero: padding, although the second is not
    b[1, 1] = 0  # second tensor zero only: not padding
    out = torch.stack([rnn((a[t], b[t])) for t in range(4)])
    ref_out = torch.stack([ref((a[t], b[t])) for t in range(4)])
    assert torch.equal(out[1, 0], torch.zeros(H, dtype=F64))
    assert_close(out[:, 1:], ref_out[:, 1:], **TOL)
    ref.forget()
    assert_close(out[2:, 0], torch.stack([ref((a[t, :1], b[t, :1])) for t in (2, 3)])[:, 0], **TOL)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_all_padding_batch_gives_zeros_and_no_nans(kind, mode):
    module, _ = masked_and_reference(kind, mode)
    x = torch.zeros(3, 2, D, dtype=F64, requires_grad=True)
    out = Sequencer(module)(x)
    out.sum().backward()
    assert torch.equal(out, torch.zeros_like(out))
    assert torch.equal(x.grad, torch.zeros_like(x))
    for g in grads(module):
        assert torch.equal(g, torch.zeros_like(g))


@pytest.mark.parametrize("mode", MODES)
def test_masking_in_eval_mode(mode):
    module, ref = masked_and_reference("GRU", mode)
    x = torch.randn(4, 3, D, dtype=F64)
    x[:2, 1] = 0
    seq, ref_seq = Sequencer(module).eval(), Sequencer(ref).eval()
    with torch.no_grad():
        out = seq(x)
        assert torch.equal(out[:2, 1], torch.zeros(2, H, dtype=F64))
        assert_close(out[2:, 1], ref_seq(x[2:, 1:2])[:, 0], **TOL)
        assert_close(out[:, ::2], ref_seq(x[:, ::2]), **TOL)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("mode", MODES)
def test_recurrent_refuses_masking(mode):
    rnn = Recurrent(H, nn.Linear(D, H), nn.Linear(H, H))
    with pytest.raises(ValueError, match="Recurrent"):
        getattr(rnn, mode)(1)
    with pytest.raises(ValueError, match="Recurrent"):
        getattr(Recursor(nn.Sequential(rnn)), mode)(1)


def test_bayesian_gru_trim_zero_needs_mono():
    with pytest.raises(ValueError, match=r"GRU.*mono"):
        GRU(D, H, p=0.25).trim_zero(1)
    GRU(D, H, p=0.25).mask_zero(1)
    GRU(D, H, p=0.25, mono=True).trim_zero(1)
    # In a container every row is computed, so the batch never shrinks: allowed.
    Recursor(nn.Sequential(GRU(D, H, p=0.25))).trim_zero(1)


@pytest.mark.parametrize("mode", MODES)
def test_negative_n_input_dim_names_the_module(mode):
    with pytest.raises(ValueError, match="FastLSTM.*n_input_dim"):
        getattr(FastLSTM(D, H), mode)(-1)


@pytest.mark.parametrize("bad", [1.0, True, None, "1"])
def test_non_int_n_input_dim_names_the_module(bad):
    with pytest.raises((ValueError, TypeError), match="GRU.*n_input_dim"):
        GRU(D, H).mask_zero(bad)


@pytest.mark.parametrize("mode", MODES)
def test_n_input_dim_mismatching_the_input_rank(mode):
    lstm = getattr(FastLSTM(D, H), mode)(2)
    with pytest.raises(ValueError, match=r"FastLSTM.*n_input_dim=2.*\(2, 3\)"):
        lstm(torch.randn(2, D))
    step = getattr(Recursor(nn.Linear(D, H)), mode)(0)
    with pytest.raises(ValueError, match="Recursor.*n_input_dim=0"):
        step(torch.randn(2, D))


def test_integer_input_needs_n_input_dim_zero():
    step = Recursor(nn.Sequential(nn.Embedding(10, 3), nn.Flatten())).mask_zero(1)
    with pytest.raises(TypeError, match="Recursor.*floating-point"):
        step(torch.tensor([[1, 2], [0, 0]]))
