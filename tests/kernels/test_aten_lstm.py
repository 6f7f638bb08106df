"""FastLSTM on ATen's fused LSTM (``torch.lstm``) against rnnkit's own kernel and the step path.

The route is taken in float32 on the CPU (float64 calls stay on rnnkit's kernel, which the
other kernel tests cover), so the comparisons are at float32 tolerance; the wiring (the bias,
the state's layer dimension, chunked inference) is also gradchecked in float64 with the
route forced.
"""

import copy

import pytest
import torch
from torch.testing import assert_close

from rnnkit import FastLSTM, Sequencer
from rnnkit.kernels import aten_lstm
from rnnkit.kernels import lstm as lstm_kernels
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
    monkeypatch.setattr(lstm_kernels, "aten_pays", lambda *a: False)
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
    monkeypatch.setattr(lstm_kernels, "aten_pays", lambda *a: True)
    args = _args(T=5, N=2, D=3, H=4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda *a: lstm_sequence(*a), args)


def test_chunked_inference_of_the_route_equals_rnnkits_in_float64(monkeypatch):
    monkeypatch.setattr(lstm_kernels, "INFERENCE_CHUNK", 3)
    args = [a.detach() for a in _args(T=8, dtype=torch.float64)]
    monkeypatch.setattr(lstm_kernels, "aten_pays", lambda *a: True)
    fused = lstm_sequence(*args)
    monkeypatch.setattr(lstm_kernels, "aten_pays", lambda *a: False)
    own = lstm_sequence(*args)
    for a, b in zip(fused, own):
        assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_route_is_taken_where_it_pays():
    x = torch.randn(50, 32, 8)
    onednn = torch.backends.mkldnn.is_available()
    assert aten_lstm.aten_pays(x, 128, training=True) == onednn
    assert aten_lstm.aten_pays(x, 512, training=True) == onednn
    assert not aten_lstm.aten_pays(x, 1024, training=True)  # rnnkit's kernel is faster there
    assert not aten_lstm.aten_pays(torch.randn(50, 64, 8), 512, training=True)
    assert aten_lstm.aten_pays(x, 1024, training=False) == onednn  # inference: every size
    assert not aten_lstm.aten_pays(x.double(), 128, training=True)  # float64: rnnkit's
    assert not aten_lstm.aten_pays(torch.randn(0, 32, 8), 128, training=True)
    assert not aten_lstm.aten_pays(torch.randn(50, 0, 8), 128, training=False)


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
    monkeypatch.setattr(lstm_kernels, "aten_pays", lambda *a: False)
    own = run(copy.deepcopy(lstm))
    for a, b in zip(fused[0] + list(fused[1]), own[0] + list(own[1])):
        assert_close(a, b, **FP32)
