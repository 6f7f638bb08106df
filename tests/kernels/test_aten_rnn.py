"""The routes to ATen's fused kernels (``torch.lstm``, ``torch.gru``) against rnnkit's own kernels.

FastLSTM's route is taken in float32 on the CPU (float64 calls stay on rnnkit's kernel, which
the other kernel tests cover), so those comparisons are at float32 tolerance; the wiring (the
bias, the state's layer dimension, chunked inference) is also gradchecked in float64 with the
route forced. The GRU's route is taken on a GPU only; here it is forced on the CPU.
"""

import copy

import pytest
import torch
from torch.testing import assert_close

from rnnkit import FastLSTM, Sequencer
from rnnkit.kernels import aten_rnn
from rnnkit.kernels import gru as gru_kernels
from rnnkit.kernels import lstm as lstm_kernels
from rnnkit.kernels.gru import gru_sequence
from rnnkit.kernels.lstm import lstm_sequence

FP32 = dict(rtol=1e-5, atol=1e-5)
needs_onednn = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN"
)


def _args(T=7, N=3, D=4, H=6, dtype=torch.float32):
    torch.manual_seed(0)
    shapes = [(T, N, D), (N, H), (N, H), (4 * H, D), (4 * H, H), (4 * H,)]
    return [(torch.randn(s, dtype=dtype) * 0.5).requires_grad_() for s in shapes]


def _spy(monkeypatch) -> list:
    calls, lstm = [], torch.lstm
    monkeypatch.setattr(torch, "lstm", lambda *a: calls.append(a[0].size(0)) or lstm(*a))
    return calls


def _outputs_and_grads(args, valid=None):
    outs = lstm_sequence(*args, valid=valid)
    loss = sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outs)
    return outs, torch.autograd.grad(loss, args)


@needs_onednn
def test_float32_route_equals_rnnkits_kernel_with_every_gradient(monkeypatch):
    args = _args()
    calls = _spy(monkeypatch)
    fused = _outputs_and_grads(args)
    assert calls == [7]  # one torch.lstm call over all steps
    monkeypatch.setattr(lstm_kernels, "aten_lstm_pays", lambda *a: False)
    own = _outputs_and_grads(args)
    assert calls == [7]
    for a, b in zip(fused[0] + fused[1], own[0] + own[1]):
        assert_close(a, b, **FP32)


@needs_onednn
def test_a_mask_without_padding_takes_the_route_and_one_with_padding_does_not(monkeypatch):
    args = _args()
    calls = _spy(monkeypatch)
    unmasked = lstm_sequence(*args)
    masked = lstm_sequence(*args, valid=torch.ones(7, 3, dtype=torch.bool))
    assert len(calls) == 2
    for a, b in zip(unmasked, masked):
        assert_close(a, b, rtol=0, atol=0)
    valid = torch.ones(7, 3)
    valid[2, 1] = 0
    lstm_sequence(*args, valid=valid)
    assert len(calls) == 2  # padding: rnnkit's masked kernel


@needs_onednn
def test_inference_runs_in_chunks_that_carry_the_state(monkeypatch):
    args = [a.detach() for a in _args(T=8)]
    calls = _spy(monkeypatch)
    whole = lstm_sequence(*args)
    monkeypatch.setattr(lstm_kernels, "INFERENCE_CHUNK", 3)
    chunked = lstm_sequence(*args)
    assert calls == [8, 3, 3, 2]
    for a, b in zip(whole, chunked):
        assert_close(a, b, **FP32)


def test_gradcheck_of_the_route_in_float64(monkeypatch):
    monkeypatch.setattr(lstm_kernels, "aten_lstm_pays", lambda *a: True)
    args = _args(T=5, N=2, D=3, H=4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda *a: lstm_sequence(*a), args)


def test_chunked_inference_of_the_route_equals_rnnkits_in_float64(monkeypatch):
    monkeypatch.setattr(lstm_kernels, "INFERENCE_CHUNK", 3)
    args = [a.detach() for a in _args(T=8, dtype=torch.float64)]
    monkeypatch.setattr(lstm_kernels, "aten_lstm_pays", lambda *a: True)
    fused = lstm_sequence(*args)
    monkeypatch.setattr(lstm_kernels, "aten_lstm_pays", lambda *a: False)
    own = lstm_sequence(*args)
    for a, b in zip(fused, own):
        assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_route_is_taken_where_it_pays():
    x = torch.randn(50, 32, 8)
    onednn = torch.backends.mkldnn.is_available()
    assert aten_rnn.aten_lstm_pays(x, 128, training=True) == onednn
    assert aten_rnn.aten_lstm_pays(x, 384, training=True) == onednn
    assert aten_rnn.aten_lstm_pays(torch.randn(50, 8, 8), 512, training=True) == onednn
    assert not aten_rnn.aten_lstm_pays(x, 512, training=True)  # a tie: rnnkit's kernel
    assert not aten_rnn.aten_lstm_pays(x, 1024, training=True)  # rnnkit's kernel is faster there
    assert not aten_rnn.aten_lstm_pays(torch.randn(50, 64, 8), 512, training=True)
    assert aten_rnn.aten_lstm_pays(x, 1024, training=False) == onednn  # inference: every size
    assert not aten_rnn.aten_lstm_pays(x.double(), 128, training=True)  # float64: rnnkit's
    assert not aten_rnn.aten_lstm_pays(torch.randn(0, 32, 8), 128, training=True)
    assert not aten_rnn.aten_lstm_pays(torch.randn(50, 0, 8), 128, training=False)


@needs_onednn
def test_sequencer_fastlstm_on_the_route_equals_it_on_rnnkits_kernel(monkeypatch):
    """Across calls with carried state and ``rho`` truncation (rnnkit's kernel is tested
    equal to stepping in float64 by tests/kernels/test_sequence_kernels.py)."""
    torch.manual_seed(3)
    lstm = FastLSTM(4, 6)
    lstm.rho = 5
    xs = [torch.randn(4, 3, 4, requires_grad=True) for _ in range(2)]
    calls = _spy(monkeypatch)

    def run(module):
        seq = Sequencer(module)
        seq.remember("both")
        ys = [seq(x) for x in xs]  # the second call starts from the first one's state
        loss = sum(y.pow(2).sum() for y in ys)
        return ys, torch.autograd.grad(loss, [*xs, *module.parameters()])

    fused = run(copy.deepcopy(lstm))
    assert calls  # the route ran
    monkeypatch.setattr(lstm_kernels, "aten_lstm_pays", lambda *a: False)
    own = run(copy.deepcopy(lstm))
    for a, b in zip(fused[0] + list(fused[1]), own[0] + list(own[1])):
        assert_close(a, b, **FP32)


# ------------------------------------------------------------------ GRU (a GPU's route)
def _gru_args(T=6, N=3, D=4, H=5):
    torch.manual_seed(4)
    shapes = [(T, N, D), (N, H), (3 * H, D), (3 * H, H), (3 * H,), (3 * H,)]
    return [(torch.randn(s, dtype=torch.float64) * 0.5).requires_grad_() for s in shapes]


def _gru_spy(monkeypatch) -> list:
    """The route forced (it is taken on a GPU only), and its ``torch.gru`` calls recorded."""
    monkeypatch.setattr(gru_kernels, "aten_gru_pays", lambda x: True)
    calls, gru = [], torch.gru
    monkeypatch.setattr(torch, "gru", lambda *a: calls.append(a[0].size(0)) or gru(*a))
    return calls


def test_gru_route_equals_rnnkits_reset_after_kernel_in_float64(monkeypatch):
    args = _gru_args()
    own = gru_sequence(*args, reset_after=True)
    own_grads = torch.autograd.grad(sum(o.pow(2).sum() for o in own), args)
    calls = _gru_spy(monkeypatch)
    fused = gru_sequence(*args, reset_after=True)
    fused_grads = torch.autograd.grad(sum(o.pow(2).sum() for o in fused), args)
    assert calls == [6]
    for a, b in zip((*fused, *fused_grads), (*own, *own_grads)):
        assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *a: gru_sequence(*a, reset_after=True), args)


def test_gru_route_chunks_inference_and_is_not_taken_for_other_calls(monkeypatch):
    args = [a.detach() for a in _gru_args(T=8)]
    own = gru_sequence(*args, reset_after=True)
    calls = _gru_spy(monkeypatch)
    monkeypatch.setattr(gru_kernels, "INFERENCE_CHUNK", 3)
    fused = gru_sequence(*args, reset_after=True)
    assert calls == [3, 3, 2]
    for a, b in zip(fused, own):
        assert_close(a, b, rtol=1e-10, atol=1e-12)
    valid = torch.ones(8, 3)
    gru_sequence(*args, reset_after=True, valid=valid)  # no padding: the route
    assert len(calls) == 6
    valid[3, 1] = 0
    gru_sequence(*args, reset_after=True, valid=valid)  # padding
    gru_sequence(*args, reset_after=False)  # Cho's candidate
    h_mask = torch.ones(3, 1, 5, dtype=torch.float64)
    gru_sequence(*args, reset_after=True, h_mask=h_mask)  # dropout masks
    assert len(calls) == 6
    assert not aten_rnn.aten_gru_pays(torch.randn(5, 2, 3))  # on the CPU: rnnkit's kernel


def test_the_route_calls_aten_in_training_mode_when_a_gradient_is_wanted(monkeypatch):
    """cuDNN keeps its backward's workspace only with ``train=True``; dropout is 0 anyway."""
    monkeypatch.setattr(lstm_kernels, "aten_lstm_pays", lambda *a: True)
    flags, lstm = [], torch.lstm
    monkeypatch.setattr(torch, "lstm", lambda *a: flags.append(a[6]) or lstm(*a))
    args = _args(T=5, N=2, D=3, H=4, dtype=torch.float64)
    lstm_sequence(*args)
    with torch.no_grad():
        lstm_sequence(*args)
    assert flags == [True, False]
