"""The prepared per-step product (oneDNN in float32 on the CPU) against the BLAS one it replaces.

The kernels pick oneDNN only above a size; here both thresholds are lowered so that small
float32 kernels run through it, and their outputs, final states and every gradient are
compared with the same kernel on ``addmm`` (float32 summation order apart, they are one
computation).
"""

import pytest
import torch
from torch.testing import assert_close

from rnnkit.kernels import step_product
from rnnkit.kernels.gru import gru_sequence
from rnnkit.kernels.lstm import lstm_sequence
from rnnkit.kernels.step_product import StepProduct

needs_onednn = pytest.mark.skipif(not step_product.ONEDNN, reason="torch built without oneDNN")
FP32 = dict(rtol=1e-5, atol=1e-5)


@needs_onednn
def test_each_product_equals_the_blas_one():
    torch.manual_seed(0)
    weight, a, base = torch.randn(12, 7), torch.randn(3, 7), torch.randn(3, 12)
    onednn, blas = StepProduct(weight, 3, 50, onednn=True), StepProduct(weight, 3, 50, False)
    assert onednn.onednn and not blas.onednn
    assert_close(onednn(a), a @ weight.t(), **FP32)
    assert_close(blas(a), a @ weight.t(), **FP32)
    assert_close(onednn.add_to(base.clone(), a), base + a @ weight.t(), **FP32)
    assert_close(onednn.add(base, a), base + a @ weight.t(), **FP32)
    out = torch.empty(3, 12)
    onednn.add(base, a, out=out)
    assert_close(out, base + a @ weight.t(), **FP32)
    strided = torch.randn(3, 20)[:, 5:12]  # a block of a wider buffer, as in the backward
    assert_close(onednn(strided), strided @ weight.t(), **FP32)


def test_onednn_only_where_it_applies_and_pays():
    small, large = torch.randn(8, 4), torch.randn(1536, 512)
    assert not StepProduct(small, 4, 50).onednn  # below the size: BLAS
    assert not StepProduct(large, 32, 2).onednn  # two steps do not pay for the reorder
    assert not StepProduct(large.double(), 32, 50).onednn  # float64: BLAS
    assert not StepProduct(small.double(), 4, 50, onednn=True).onednn  # forced, not usable
    assert StepProduct(large, 32, 50).onednn == step_product.ONEDNN


def _run(kernel, args, params):
    outputs = kernel(*args)
    loss = sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outputs)
    return outputs, torch.autograd.grad(loss, params)


def _assert_onednn_equals_blas(kernel, args, params, monkeypatch):
    """``kernel``'s outputs and gradients on oneDNN (every product) equal those on the BLAS."""
    monkeypatch.setattr(step_product, "MIN_WEIGHT_SIZE", 0)
    monkeypatch.setattr(step_product, "MIN_PROJECTION_SIZE", 0)  # the input projections too
    monkeypatch.setattr(step_product, "MIN_STEPS", 0)
    calls, product = [], StepProduct.__call__
    monkeypatch.setattr(StepProduct, "__call__", lambda self, a: calls.append(self.onednn) or
                        product(self, a))  # fmt: skip
    fast = _run(kernel, args, params)
    assert calls and all(calls)  # the forward and the backward ran on oneDNN
    monkeypatch.setattr(step_product, "ONEDNN", False)
    slow = _run(kernel, args, params)
    for f, s in zip((*fast[0], *fast[1]), (*slow[0], *slow[1])):
        assert_close(f, s, **FP32)


@needs_onednn
@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_kernel_on_onednn_equals_blas(peephole, monkeypatch):
    torch.manual_seed(1)
    T, N, D, H = 7, 3, 4, 6
    x, h0, c0 = torch.randn(T, N, D), torch.randn(N, H), torch.randn(N, H)
    w_ih, w_hh, b = torch.randn(4 * H, D), torch.randn(4 * H, H) * 0.5, torch.randn(4 * H)
    peep = tuple(torch.randn(H) for _ in range(3)) if peephole else None
    params = [x, h0, c0, w_ih, w_hh, b, *(peep or ())]
    for p in params:
        p.requires_grad_()
    valid = (torch.rand(T, N) > 0.2).float()
    _assert_onednn_equals_blas(
        lambda *a: lstm_sequence(*a, peepholes=peep, valid=valid),
        (x, h0, c0, w_ih, w_hh, b), params, monkeypatch,
    )  # fmt: skip


@needs_onednn
@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_kernel_on_onednn_equals_blas(reset_after, monkeypatch):
    torch.manual_seed(2)
    T, N, D, H = 7, 3, 4, 6
    x, h0 = torch.randn(T, N, D), torch.randn(N, H)
    w_ih, w_hh = torch.randn(3 * H, D), torch.randn(3 * H, H) * 0.5
    b_ih, b_hh = torch.randn(3 * H), torch.randn(3 * H)
    params = [x, h0, w_ih, w_hh, b_ih, b_hh]
    for p in params:
        p.requires_grad_()
    _assert_onednn_equals_blas(
        lambda *a: gru_sequence(*a, reset_after=reset_after), params, params, monkeypatch
    )


@needs_onednn
def test_inference_paths_on_onednn_equal_blas(monkeypatch):
    torch.manual_seed(3)
    T, N, D, H = 9, 2, 3, 5
    x, h0, c0 = torch.randn(T, N, D), torch.randn(N, H), torch.randn(N, H)
    lstm = (torch.randn(4 * H, D), torch.randn(4 * H, H), torch.randn(4 * H))
    gru = (torch.randn(3 * H, D), torch.randn(3 * H, H), torch.randn(3 * H), torch.randn(3 * H))
    monkeypatch.setattr(step_product, "MIN_WEIGHT_SIZE", 0)
    monkeypatch.setattr(step_product, "MIN_PROJECTION_SIZE", 0)
    monkeypatch.setattr(step_product, "MIN_STEPS", 0)
    fast = (*lstm_sequence(x, h0, c0, *lstm), *gru_sequence(x, h0, *gru, reset_after=True))
    monkeypatch.setattr(step_product, "ONEDNN", False)
    slow = (*lstm_sequence(x, h0, c0, *lstm), *gru_sequence(x, h0, *gru, reset_after=True))
    for f, s in zip(fast, slow):
        assert_close(f, s, **FP32)


@needs_onednn
def test_mufuru_kernel_on_onednn_equals_blas(monkeypatch):
    from rnnkit.cells.mufuru import MUFURU_OPS
    from rnnkit.kernels.mufuru import mufuru_sequence

    torch.manual_seed(4)
    T, N, D, H, J = 6, 3, 4, 5, len(MUFURU_OPS)
    x, s0 = torch.randn(T, N, D), torch.rand(N, H)
    shapes = [(H, D), (H,), (H, H), (H,), (H, D + H), (H,), (J * H, D + H), (J * H,)]
    weights = [torch.randn(*shape) * 0.5 for shape in shapes]
    params = [x, s0, *weights]
    for p in params:
        p.requires_grad_()
    _assert_onednn_equals_blas(
        lambda x, s0, *w: mufuru_sequence(x, s0, tuple(MUFURU_OPS), *w), params, params,
        monkeypatch,
    )  # fmt: skip


class _UserCell(torch.nn.Module):
    """A user's cell for ``Recurrence``: its input map is hoisted, its recurrent one deferred."""

    def __init__(self, D, H):
        super().__init__()
        self.ih, self.hh = torch.nn.Linear(D, 2 * H), torch.nn.Linear(H, 2 * H)

    def forward(self, x, h):
        a, b = (self.ih(x) + self.hh(h)).chunk(2, 1)
        return torch.tanh(a) * torch.sigmoid(b)


@needs_onednn
@pytest.mark.parametrize("cell", ["user cell", "FastLSTM(batchnorm)"])
def test_deferred_and_batchnorm_products_on_onednn_equal_blas(cell, monkeypatch):
    import rnnkit

    torch.manual_seed(5)
    T, N, D, H = 7, 3, 4, 5
    module = (rnnkit.Recurrence(_UserCell(D, H), H, 1) if cell == "user cell"
              else rnnkit.FastLSTM(D, H, batchnorm=True))  # fmt: skip
    x = torch.randn(T, N, D, requires_grad=True)
    params = [x, *module.parameters()]
    _assert_onednn_equals_blas(
        lambda x: (rnnkit.Sequencer(module)(x),), (x,), params, monkeypatch
    )


@needs_onednn
def test_packed_lstm_kernel_on_onednn_equals_blas(monkeypatch):
    from rnnkit.kernels.packed_lstm import packed_lstm_sequence, packing

    torch.manual_seed(6)
    T, N, D, H = 7, 4, 4, 6
    params = [torch.randn(T, N, D), torch.randn(N, H), torch.randn(N, H),
              torch.randn(4 * H, D), torch.randn(4 * H, H) * 0.5, torch.randn(4 * H)]  # fmt: skip
    for p in params:
        p.requires_grad_()
    valid = torch.arange(T).unsqueeze(1) >= T - torch.tensor([7, 2, 5, 1])  # left padding
    pk = packing(valid)
    _assert_onednn_equals_blas(
        lambda *a: packed_lstm_sequence(*a, pk), params, params, monkeypatch
    )


@needs_onednn
def test_the_differentiable_projection_on_onednn_equals_f_linear(monkeypatch):
    from rnnkit.kernels.step_product import linear_rows

    torch.manual_seed(7)
    rows, weight, bias = torch.randn(9, 5), torch.randn(6, 5), torch.randn(6)
    for p in (rows, weight, bias):
        p.requires_grad_()
    monkeypatch.setattr(step_product, "MIN_PROJECTION_SIZE", 0)
    for with_bias in (True, False):
        b = bias if with_bias else None
        out = linear_rows(rows, weight, b)
        expected = torch.nn.functional.linear(rows, weight, b)
        assert out.grad_fn is not None and "Projection" in type(out.grad_fn).__name__
        assert_close(out, expected, **FP32)
        inputs = (rows, weight, bias) if with_bias else (rows, weight)
        g = torch.randn_like(out)
        got, want = torch.autograd.grad(out, inputs, g), torch.autograd.grad(expected, inputs, g)
        for a, e in zip(got, want):
            assert_close(a, e, **FP32)
