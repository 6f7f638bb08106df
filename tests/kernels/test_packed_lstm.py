"""The packed LSTM kernel (real steps only, one-side padding) against the masked kernel."""

import pytest
import torch
from torch.testing import assert_close

from rnnkit.kernels import packed_lstm
from rnnkit.kernels.lstm import _LSTMSequence, lstm_sequence
from rnnkit.kernels.packed_lstm import packed_lstm_sequence, packing

T, N, D, H = 6, 5, 3, 4
TIGHT = dict(rtol=1e-10, atol=1e-12)
LENGTHS = torch.tensor([6, 3, 0, 1, 4])  # a full row, an empty one, ties broken by position


def _valid(side, lengths=LENGTHS):
    t = torch.arange(T).unsqueeze(1)
    return t >= T - lengths if side == "left" else t < lengths


def _args(seed=0):
    torch.manual_seed(seed)
    shapes = [(T, N, D), (N, H), (N, H), (4 * H, D), (4 * H, H), (4 * H,)]
    return [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_packing_is_the_packed_sequence_layout_and_refuses_inner_zero_steps():
    pk = packing(_valid("right"))
    assert pk.perm.tolist() == [0, 4, 1, 3, 2]
    assert pk.k == [4, 3, 3, 2, 1, 1] and pk.off == [0, 4, 7, 10, 12, 13]
    assert pk.m == [4, 3, 3, 2, 1, 1]
    assert pk.flat[:4].tolist() == [0, 4, 1, 3]  # step 0: rows 0, 4, 1, 3
    left = packing(_valid("left"))
    assert left.k == [1, 1, 2, 3, 3, 4] and left.m == [1, 1, 1, 2, 3, 3]
    inner = _valid("right").clone()
    inner[1, 0] = False  # row 0: real, padded, real
    assert packing(inner) is None


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("used", ["all", "output", "final"])
def test_equals_the_masked_kernel_outputs_states_and_gradients(side, used):
    args, valid = _args(), _valid(side)
    packed = packed_lstm_sequence(*args, packing(valid))
    masked = _LSTMSequence.apply(*args, None, None, None, valid.double())
    for a, b in zip(packed, masked):
        assert_close(a, b, **TIGHT)
    pick = {"all": slice(0, 3), "output": slice(0, 1), "final": slice(1, 3)}[used]
    gen = torch.Generator().manual_seed(3)
    weights = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in packed]
    grads = [
        torch.autograd.grad(sum((o * w).sum() for o, w in zip(outs[pick], weights[pick])), args)
        for outs in (packed, masked)
    ]
    for a, b in zip(*grads):
        assert_close(a, b, **TIGHT)


@pytest.mark.parametrize("side", ["left", "right"])
def test_gradcheck(side):
    pk = packing(_valid(side))
    assert torch.autograd.gradcheck(lambda *a: packed_lstm_sequence(*a, pk), _args(1))


def test_lstm_sequence_packs_one_side_padding_only_when_training(monkeypatch):
    calls = []
    real = packed_lstm.packed_lstm_sequence
    monkeypatch.setattr(packed_lstm, "packed_lstm_sequence",
                        lambda *a: calls.append(1) or real(*a))  # fmt: skip
    args = _args()
    lstm_sequence(*args, valid=_valid("left"))
    assert calls == [1]
    inner = _valid("left").clone()
    inner[4, 0] = False
    lstm_sequence(*args, valid=inner)  # a zero step inside a row: the masked kernel
    peep = tuple(torch.randn(H, dtype=torch.float64) for _ in range(3))
    lstm_sequence(*args, peepholes=peep, valid=_valid("left"))  # peepholes: masked kernel
    with torch.no_grad():
        lstm_sequence(*args, valid=_valid("left"))  # inference: the chunked path
    assert calls == [1]


def test_all_padding_and_a_step_with_no_real_row():
    args = _args(2)
    for lengths in (torch.zeros(N, dtype=torch.long), torch.tensor([2, 0, 1, 2, 0])):
        valid = torch.arange(T).unsqueeze(1) >= T - lengths  # steps 0..3 have no real row
        packed = packed_lstm_sequence(*args, packing(valid))
        masked = _LSTMSequence.apply(*args, None, None, None, valid.double())
        for a, b in zip(packed, masked):
            assert_close(a, b, **TIGHT)
        g_p = torch.autograd.grad(sum(o.sum() for o in packed), args, allow_unused=True)
        g_m = torch.autograd.grad(sum(o.sum() for o in masked), args, allow_unused=True)
        for a, b in zip(g_p, g_m):
            assert_close(a, b, **TIGHT)
