"""FastLSTM: LSTM without peepholes, all gates in one matrix product.

Replaces the original ``nn.FastLSTM`` (Element-Research/rnn), including its optional
recurrent batch normalisation (Cooijmans et al. 2016, "Recurrent Batch Normalization").
Parameters use ``torch.nn.LSTM``'s names and layout (gates ``[i, f, g, o]``), so
``FastLSTM`` and ``torch.nn.LSTM`` weights copy across unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import expect_features, expect_float, expect_positive_int
from .._params import new_parameter, uniform_init, zeros_state
from .._state import StateSpec, TensorSpec
from ..cells.lstm import lstm_pointwise, lstm_step
from ..kernels.autocast import autocast_dtype
from ..kernels.batch_norm import batch_norm_steps
from ..kernels.batch_norm_lstm import batchnorm_lstm_sequence, uses_batch_statistics
from ..kernels.deferred import DeferredLinear
from ..kernels.intercept import chunked, run_steps
from ..kernels.lstm import lstm_sequence
from .abstract import AbstractRecurrent, SequenceKernel


class FastLSTM(AbstractRecurrent):
    """LSTM step module with fused gates.

    ``a = W_ih x + b_ih + W_hh h + b_hh``; ``i, f, o = σ(·)``, ``g = tanh(·)``;
    ``c' = f ⊙ c + i ⊙ g``; ``h' = o ⊙ tanh(c')``.

    With ``batchnorm=True`` (Cooijmans et al.): ``a = BN(W_ih x) + BN(W_hh h) + b`` and
    ``h' = o ⊙ tanh(BN(c'))``; the three ``BatchNorm1d`` modules (``bn_ih``, ``bn_hh``,
    ``bn_c``) are shared by all time steps, their scales start at 0.1, and ``eps``,
    ``momentum``, ``affine`` are passed to them.

    Args:
        input_size: ``D``. output_size: ``H``. rho: BPTT truncation.

    Shape:
        step input ``(N, D)`` → output ``(N, H)``.

    State:
        ``(h, c)``, each ``(N, H)``.

    Example:
        >>> lstm = FastLSTM(10, 20)
        >>> h = lstm(torch.randn(4, 10))  # step 1
        >>> h = lstm(torch.randn(4, 10))  # step 2
        >>> h.shape
        torch.Size([4, 20])
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        rho: int = 9999,
        *,
        batchnorm: bool = False,
        eps: float = 0.1,
        momentum: float = 0.1,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(rho)
        name = type(self).__name__
        self.input_size = expect_positive_int(name, input_size, "input_size")
        self.output_size = expect_positive_int(name, output_size, "output_size")
        self.batchnorm = bool(batchnorm)
        if self.batchnorm:
            eps = expect_float(name, eps, "eps", 0.0, low_open=True)
            if momentum is not None:  # None: BatchNorm1d's cumulative moving average
                momentum = expect_float(name, momentum, "momentum", 0.0, 1.0)
        H, D = output_size, input_size
        kw: dict[str, Any] = dict(device=device, dtype=dtype)
        self.weight_ih = new_parameter(4 * H, D, **kw)
        self.weight_hh = new_parameter(4 * H, H, **kw)
        if self.batchnorm:
            # BN cancels any bias before it; one learned bias follows the recurrent BN.
            self.bias = new_parameter(4 * H, **kw)
            bn: dict[str, Any] = dict(eps=eps, momentum=momentum, affine=affine, **kw)
            self.bn_ih = nn.BatchNorm1d(4 * H, **bn)
            self.bn_hh = nn.BatchNorm1d(4 * H, **bn)
            self.bn_c = nn.BatchNorm1d(H, **bn)
        else:
            self.bias_ih = new_parameter(4 * H, **kw)
            self.bias_hh = new_parameter(4 * H, **kw)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from ``U(-1/√H, 1/√H)`` (torch.nn.LSTM's init); batch
        normalisation gains start at 0.1."""
        uniform_init(self, self.output_size)
        if self.batchnorm:
            for bn in (self.bn_ih, self.bn_hh, self.bn_c):
                bn.reset_parameters()
                if bn.affine:
                    nn.init.constant_(bn.weight, 0.1)

    def _check_maskable(self, trim: bool) -> None:
        if trim and self.batchnorm:
            # Batch statistics over the kept rows differ from those over every row.
            raise ValueError(
                "FastLSTM: trim_zero with batchnorm=True would compute batch statistics over "
                "the non-padding rows only, unlike mask_zero; use mask_zero"
            )

    def sequence_kernel(self) -> SequenceKernel:
        if self.batchnorm:
            return self._batchnorm_kernel
        return self._run_sequence

    def _batchnorm_kernel(self, x, state, valid):
        if autocast_dtype(x) is not None:  # autocast casts op by op: the step path's steps
            return run_steps(type(self).__name__, self.recurrent_step, [], x, state, valid)
        return chunked(self._run_batchnorm_sequence, x, state, valid)

    @torch.compiler.disable  # a graph break, as the other kernels: tracing unrolls every step
    def _run_batchnorm_sequence(self, x, state, valid):
        # W_ih x for all steps is one product, normalised with every step's statistics at
        # once (bn_ih does not depend on the recurrence). With batch statistics, bn_hh and bn_c
        # run inside the whole-sequence kernel (the same statistics and running-statistic
        # updates as the step path); otherwise (running statistics, or one row, where
        # BatchNorm1d has its own errors) they are called at every step, in order, with
        # W_hh h deferred (its weight gradient one product at the end).
        h, c = state
        projected = F.linear(x.transpose(0, 1), self.weight_ih)  # (N, T, 4H)
        projected = batch_norm_steps(self.bn_ih, projected)
        batch_stats = uses_batch_statistics(self.bn_hh) and uses_batch_statistics(self.bn_c)
        if batch_stats and x.size(1) > 1:
            out, h, c = batchnorm_lstm_sequence(projected.transpose(0, 1), h, c, self.weight_hh,
                                                self.bias, self.bn_hh, self.bn_c, valid)  # fmt: skip
            return out, (h, c)
        projected = projected + self.bias
        recurrent = DeferredLinear(self.weight_hh, steps=x.size(0))
        outputs = []
        for t, projected_t in enumerate(projected.unbind(1)):
            gates = projected_t + self.bn_hh(recurrent(h))
            h, c = lstm_pointwise(gates, c, self.bn_c)
            if valid is not None:
                pad = valid[t] == 0
                if bool(pad.any()):
                    h, c = h.masked_fill(pad.unsqueeze(1), 0), c.masked_fill(pad.unsqueeze(1), 0)
            outputs.append(h)
        return torch.stack(outputs), (h, c)

    def _run_sequence(self, x, state, valid):
        h, c = state
        bias = self.bias_ih + self.bias_hh
        out, h, c = lstm_sequence(x, h, c, self.weight_ih, self.weight_hh, bias, valid=valid)
        return out, (h, c)

    def check_input(self, x: torch.Tensor) -> None:
        expect_features(type(self).__name__, x, self.input_size, self.weight_ih)

    def state_spec(self) -> StateSpec:
        return TensorSpec("h", (self.output_size,)), TensorSpec("c", (self.output_size,))

    def initial_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = zeros_state(x, self.output_size, self.weight_ih)
        return zeros, zeros

    def recurrent_step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h, c = state
        if not self.batchnorm:
            h, c = lstm_step(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
            return h, (h, c)
        gates = (
            self.bn_ih(F.linear(x, self.weight_ih))
            + self.bn_hh(F.linear(h, self.weight_hh))
            + self.bias
        )
        h, c = lstm_pointwise(gates, c, self.bn_c)
        return h, (h, c)

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.output_size}", super().extra_repr()]
        if self.batchnorm:
            parts.append("batchnorm=True")
        return ", ".join(p for p in parts if p)
