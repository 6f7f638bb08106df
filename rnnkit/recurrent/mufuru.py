"""MuFuRu: the Multi-Function Recurrent Unit (Weissenborn & Rocktäschel 2016), the original ``nn.MuFuRu``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .._checks import expect_features, expect_positive_int
from .._params import new_parameter, uniform_init, zeros_state
from .._state import StateSpec, TensorSpec
from ..cells.mufuru import MUFURU_OPS, mufuru_step
from ..kernels.mufuru import mufuru_sequence
from .abstract import AbstractRecurrent, SequenceKernel


class MuFuRu(AbstractRecurrent):
    """Multi-Function Recurrent Unit step module.

    ``r = σ(W_xr x + b_xr + W_sr s + b_sr)``; ``v = σ(W_v [x, r ⊙ s] + b_v)``;
    ``p = softmax over ops of (W_p [x, s] + b_p)`` (per hidden unit);
    ``s' = Σ_j p_j ⊙ op_j(s, v)`` with ops ``keep = s``, ``replace = v``, ``mul = s ⊙ v``,
    ``diff = s - v``, ``forget = 0``, ``sqrt_diff = ¼ √|s - v|``, ``max``, ``min``.
    ``keep`` + ``replace`` alone is a GRU-like unit.

    Args:
        ops: any non-empty subset of the eight op names (all by default), in any order.

    Shape:
        step input ``(N, D)`` → output ``(N, H)``.

    State:
        ``s (N, H)``.

    Example:
        >>> cell = MuFuRu(10, 20, ops=("keep", "replace", "max"))
        >>> cell(torch.randn(4, 10)).shape
        torch.Size([4, 20])
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        ops: Sequence[str] | None = None,
        rho: int = 9999,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(rho)
        name = type(self).__name__
        self.input_size = expect_positive_int(name, input_size, "input_size")
        self.output_size = expect_positive_int(name, output_size, "output_size")
        ops = tuple(MUFURU_OPS) if ops is None else tuple(ops)
        unknown = [o for o in ops if o not in MUFURU_OPS]
        if not ops or unknown or len(set(ops)) != len(ops):
            raise ValueError(
                f"{name}: expected a non-empty subset of {sorted(MUFURU_OPS)} without repeats, "
                f"got {list(ops)}"
            )
        self.ops = ops
        H, D, J = output_size, input_size, len(ops)
        kw: dict[str, Any] = dict(device=device, dtype=dtype)
        self.weight_xr = new_parameter(H, D, **kw)
        self.bias_xr = new_parameter(H, **kw)
        self.weight_sr = new_parameter(H, H, **kw)
        self.bias_sr = new_parameter(H, **kw)
        self.weight_v = new_parameter(H, D + H, **kw)
        self.bias_v = new_parameter(H, **kw)
        self.weight_p = new_parameter(J * H, D + H, **kw)
        self.bias_p = new_parameter(J * H, **kw)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from ``U(-1/√H, 1/√H)``."""
        uniform_init(self, self.output_size)

    def check_input(self, x: torch.Tensor) -> None:
        expect_features(type(self).__name__, x, self.input_size, self.weight_xr)

    def state_spec(self) -> StateSpec:
        return TensorSpec("s", (self.output_size,))

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        return zeros_state(x, self.output_size, self.weight_xr)

    def sequence_kernel(self) -> SequenceKernel:
        return self._run_sequence

    def _run_sequence(self, x, s, valid):
        s = mufuru_sequence(
            x, s, self.ops, self.weight_xr, self.bias_xr, self.weight_sr, self.bias_sr,
            self.weight_v, self.bias_v, self.weight_p, self.bias_p, valid=valid,
        )  # fmt: skip
        return s

    def recurrent_step(self, x: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = mufuru_step(
            x, s, self.ops, self.weight_xr, self.bias_xr, self.weight_sr, self.bias_sr,
            self.weight_v, self.bias_v, self.weight_p, self.bias_p,
        )  # fmt: skip
        return s, s

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.output_size}", f"ops={self.ops}", super().extra_repr()]
        return ", ".join(p for p in parts if p)
