"""GRU step module (Cho et al. 2014), with variational dropout (Gal & Ghahramani 2016).

Replaces the original ``nn.GRU`` (Element-Research/rnn), whose ``p > 0`` made it the
"Bayesian GRU": dropout on every input and recurrent connection, one mask per gate path,
the same masks at every step of a sequence. ``reset_after=True`` gives the variant used by
cuDNN and ``torch.nn.GRU`` (reset applied after the recurrent product), the exact step
twin of the fused GRU kernels.
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import expect_features, expect_float, expect_positive_int
from .._params import new_parameter, uniform_init, zeros_state
from .._state import StateSpec, TensorSpec
from ..cells.gru import gru_step
from ..kernels.gru import gru_sequence
from .abstract import AbstractRecurrent, SequenceKernel


class GRU(AbstractRecurrent):
    """GRU step module.

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``; ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``;
    ``n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)`` (or ``r ⊙ (W_hn h + b_hn)`` with
    ``reset_after=True``); ``h' = (1 - z) ⊙ n + z ⊙ h``. Parameters as ``torch.nn.GRU``:
    ``weight_ih (3H, D)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh (3H)``, gates ``[r, z, n]``.

    Args:
        p: variational dropout probability on the inputs and the recurrent state of each of
            the three gate paths (separate masks), drawn once per sequence (at the first step
            after ``forget()`` or at each ``Sequencer`` call) and reused at every step.
            Training only. Scaled by ``1/(1-p)`` so evaluation needs no rescaling.
        mono: draw one mask row and share it across the batch (needed when rows are removed
            mid-sequence, as ``TrimZero`` does).
        reset_after: the cuDNN / ``torch.nn.GRU`` candidate.

    Shape:
        step input ``(N, D)`` → output ``(N, H)``.

    State:
        ``h (N, H)``.

    Example:
        >>> gru = GRU(10, 20, p=0.25)
        >>> gru(torch.randn(4, 10)).shape
        torch.Size([4, 20])
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        rho: int = 9999,
        p: float = 0.0,
        mono: bool = False,
        *,
        reset_after: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(rho)
        name = type(self).__name__
        self.input_size = expect_positive_int(name, input_size, "input_size")
        self.output_size = expect_positive_int(name, output_size, "output_size")
        self.p = expect_float(name, p, "dropout p", 0.0, 1.0, high_open=True)
        self.mono = bool(mono)
        self.reset_after = bool(reset_after)
        H, D = output_size, input_size
        kw: dict[str, Any] = dict(device=device, dtype=dtype)
        self.weight_ih = new_parameter(3 * H, D, **kw)
        self.weight_hh = new_parameter(3 * H, H, **kw)
        self.bias_ih = new_parameter(3 * H, **kw)
        self.bias_hh = new_parameter(3 * H, **kw)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from ``U(-1/√H, 1/√H)`` (torch.nn.GRU's init)."""
        uniform_init(self, self.output_size)

    def check_input(self, x: torch.Tensor) -> None:
        expect_features(type(self).__name__, x, self.input_size, self.weight_ih)

    def state_spec(self) -> StateSpec:
        return TensorSpec("h", (self.output_size,))

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        return zeros_state(x, self.output_size, self.weight_ih)

    def _masks(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not (self.training and self.p > 0):
            return None, None
        rows = 1 if self.mono else x.size(0)
        masks = self.sequence_cache.get("dropout")
        if masks is None or masks[0].size(1) != rows:
            keep = 1.0 - self.p
            masks = tuple(
                torch.empty(3, rows, size, dtype=x.dtype, device=x.device).bernoulli_(keep) / keep
                for size in (self.input_size, self.output_size)
            )
            self.sequence_cache["dropout"] = masks
        return masks

    def _check_maskable(self, trim: bool) -> None:
        if trim and self.p > 0 and not self.mono:
            raise ValueError(
                f"GRU: trim_zero with dropout p={self.p} needs mono=True (one dropout mask row "
                "shared by the batch), since the number of rows changes from step to step"
            )

    def sequence_kernel(self) -> SequenceKernel:
        return self._run_sequence

    def _run_sequence(self, x, h, valid):
        x_mask, h_mask = self._masks(x[0])  # drawn where the first step would draw them
        out, h = gru_sequence(
            x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
            reset_after=self.reset_after, x_mask=x_mask, h_mask=h_mask, valid=valid,
        )  # fmt: skip
        return out, h

    def recurrent_step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_mask, h_mask = self._masks(x)
        h = gru_step(
            x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
            reset_after=self.reset_after, x_mask=x_mask, h_mask=h_mask,
        )  # fmt: skip
        return h, h

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.output_size}", super().extra_repr()]
        if self.p:
            parts.append(f"p={self.p}" + (", mono=True" if self.mono else ""))
        if self.reset_after:
            parts.append("reset_after=True")
        return ", ".join(p for p in parts if p)
