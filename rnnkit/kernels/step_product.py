"""The per-step product of the sequence kernels, ``out += a Wᵀ``, against a weight prepared once.

A sequence kernel multiplies a small block ``a (N, K)`` (``N`` = batch) by the same weight
``W (M, K)`` at every step. On the CPU, ``torch.mm`` hands each such product to the BLAS
(MKL), which repacks ``W`` at every call; with ``N = 32`` that repacking costs about as much
as the arithmetic, and MKL's 2-thread split of it is poor on AMD processors (at
``K = 1024, M = 4096``, 2 threads: 6.4 ms per product against 2.9 ms with the weight
prepacked). So in float32 on the CPU the weight is reordered once per kernel call into
oneDNN's blocked layout (``torch.ops.mkldnn._reorder_linear_weight``, what Inductor's CPU
``freezing`` uses) and every step calls oneDNN's linear on it, as ``torch.nn.LSTM``'s
oneDNN kernel does internally. Elsewhere (float64, CUDA, a build without oneDNN) it is
``addmm_`` against a contiguous ``Wᵀ``.

Below ``K·M = 256·768`` (a GRU's ``W_hh`` at ``H = 256``) or for a few steps, the BLAS is
as fast or faster, and the reorder would not pay for itself, so those stay on ``addmm_``.
Measured on a 2-core AMD EPYC (2026-12-04, 2 threads, ``T = 50, N = 32``, training), the
whole kernels with this threshold against ``512·1536``: GRU 1.03× / 0.96× / 1.07–1.09× at
``H = 256 / 384 / 512``, FastLSTM 1.00× / 1.11× at ``H = 256 / 384`` (run-to-run noise is
about ±4 %). Single products measured faster still (1.2–1.6× at ``H = 256 … 384``), so the
kernels' other work dominates there. An earlier session's EPYC measured oneDNN no faster
than the BLAS below ``H = 512`` on one thread: the threshold is a property of the machine.

The two give the same product up to float32 summation order. The prepared weight is a
copy: it is made after any change to the weight (each kernel call makes its own).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _onednn_available() -> bool:
    try:
        return bool(
            torch.backends.mkldnn.is_available()
            and torch.ops.mkldnn._reorder_linear_weight.default is not None
            and torch.ops.mkldnn._linear_pointwise.default is not None
        )
    except (AttributeError, RuntimeError):  # a build without the ops
        return False


ONEDNN = _onednn_available()
MIN_WEIGHT_SIZE = 256 * 768  # K·M from which the prepacked product is the faster
MIN_STEPS = 8  # products per reorder from which it pays for itself
# The same for :func:`project`, the one product over every step's rows (measured 1.16-1.23x
# at H >= 512, slower than the BLAS at H = 256 in the kernels).
MIN_PROJECTION_SIZE = 512 * 1536


def _onednn_usable(weight: Tensor) -> bool:
    return ONEDNN and weight.device.type == "cpu" and weight.dtype == torch.float32


def onednn_pays(weight: Tensor, steps: int) -> bool:
    """Whether :class:`StepProduct` picks oneDNN for ``weight`` over ``steps`` products."""
    return _onednn_usable(weight) and weight.numel() >= MIN_WEIGHT_SIZE and steps >= MIN_STEPS


class StepProduct:
    """``W (M, K)`` as ``F.linear`` takes it, prepared for ``steps`` products ``(rows, K)``.

    ``onednn=None`` picks oneDNN where it applies and pays (float32 CPU tensors, oneDNN
    built in, a weight and a step count above the thresholds); ``True``/``False`` force
    either path where it applies (the tests compare the two).
    """

    def __init__(
        self, weight: Tensor, rows: int, steps: int, onednn: bool | None = None
    ) -> None:
        if onednn is None:
            self.onednn = onednn_pays(weight, steps)
        else:
            self.onednn = _onednn_usable(weight) and onednn
        weight = weight.detach()
        if self.onednn:
            self._packed = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), rows)
        else:
            self._weight_t = weight.t().contiguous()  # row-wise reads in the product

    def __call__(self, a: Tensor) -> Tensor:
        """``a Wᵀ``: ``a (N, K)`` → a new ``(N, M)``."""
        if self.onednn:
            return torch.ops.mkldnn._linear_pointwise(a.contiguous(), self._packed, None,
                                                      "none", [], "")  # fmt: skip
        return a.mm(self._weight_t)

    def into(self, out: Tensor, a: Tensor) -> Tensor:
        """``out = a Wᵀ`` written into ``out (N, M)``; returns ``out``."""
        if self.onednn:
            return out.copy_(self(a))
        return torch.mm(a, self._weight_t, out=out)

    def add_to(self, out: Tensor, a: Tensor) -> Tensor:
        """``out += a Wᵀ`` in place; returns ``out``."""
        if self.onednn:
            return out.add_(self(a))
        return out.addmm_(a, self._weight_t)

    def add(self, base: Tensor, a: Tensor, out: Tensor | None = None) -> Tensor:
        """``base + a Wᵀ`` (``base`` is not changed), into ``out`` if given."""
        if self.onednn:
            if out is not None:
                return torch.add(self(a), base, out=out)
            if base.dim() == 1:  # a bias: oneDNN adds it in the product
                return torch.ops.mkldnn._linear_pointwise(a.contiguous(), self._packed, base,
                                                          "none", [], "")  # fmt: skip
            # The sum as the product's post-op: one pass over the result, not two.
            return torch.ops.mkldnn._linear_pointwise.binary(a.contiguous(), base.contiguous(),
                                                             self._packed, None, "add")  # fmt: skip
        if out is not None:
            return torch.addmm(base, a, self._weight_t, out=out)
        return torch.addmm(base, a, self._weight_t)


def project(rows: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``rows Wᵀ + bias`` for the input projection of every step at once, ``rows (M, K)``.

    Not differentiable: for the kernels' forward passes. In float32 on the CPU, for a weight
    above ``MIN_PROJECTION_SIZE``, oneDNN's linear on a weight reordered for this call (the
    reorder included, 1.16–1.23× faster than MKL's ``addmm`` for ``M = 1600`` rows and
    ``H = 512 … 1024`` on a 2-core AMD EPYC; as fast at ``H = 128``); ``addmm`` elsewhere.
    """
    if _projection_pays(rows, weight, bias):
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), rows.size(0))
        return torch.ops.mkldnn._linear_pointwise(rows.detach().contiguous(), packed,
                                                  bias.detach(), "none", [], "")  # fmt: skip
    return torch.addmm(bias, rows, weight.t())


def _projection_pays(rows: Tensor, weight: Tensor, bias: Tensor | None) -> bool:
    usable = ONEDNN and rows.device.type == "cpu" and rows.dtype == weight.dtype == torch.float32
    return usable and weight.numel() >= MIN_PROJECTION_SIZE and (
        bias is None or bias.dtype == torch.float32
    )


class _Projection(torch.autograd.Function):
    """:func:`project` with ``F.linear``'s gradients (one product each)."""

    @staticmethod
    def forward(ctx, rows, weight, bias):
        ctx.save_for_backward(rows, weight)
        ctx.has_bias = bias is not None
        if bias is None:
            bias = weight.new_zeros(weight.size(0))
        return project(rows, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        rows, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        grad_rows = grad.mm(weight) if need[0] else None
        grad_weight = grad.t().mm(rows) if need[1] else None
        grad_bias = grad.sum(0) if ctx.has_bias and need[2] else None
        return grad_rows, grad_weight, grad_bias


def linear_rows(rows: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``F.linear(rows (M, K), weight, bias)``, differentiable, with :func:`project`'s product
    where it pays (the backward is ``F.linear``'s: one product per gradient)."""
    if _projection_pays(rows, weight, bias):
        return _Projection.apply(rows, weight, bias)
    return torch.nn.functional.linear(rows, weight, bias)
