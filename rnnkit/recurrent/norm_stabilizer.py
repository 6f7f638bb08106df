"""NormStabilizer: norm-stabilisation regulariser (Krueger & Memisevic 2016), the original ``nn.NormStabilizer``.

The forward pass is the identity; the backward pass adds the gradient of
``β/N · Σ_t Σ_n (‖h[t, n]‖ - ‖h[t-1, n]‖)²`` (averaged over the batch, not over time,
so ``beta`` needs no change with the sequence length). Insert it after a recurrent layer
inside a ``Sequencer``.
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import expect_float, expect_floating, expect_tensor
from .._state import StateSpec, TensorSpec
from .abstract import AbstractRecurrent


def _safe_unit(h: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    return torch.where(norm > 0, h / norm.clamp_min(torch.finfo(h.dtype).tiny), 0.0)


class _StabilizeGrad(torch.autograd.Function):
    """Identity on ``h``; backward adds the penalty gradient for the pair ``(h_prev, h)``."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, h_prev: torch.Tensor, beta: float) -> torch.Tensor:
        ctx.save_for_backward(h, h_prev)
        ctx.beta = beta
        return h.view_as(h)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        h, h_prev = ctx.saved_tensors
        norm = h.norm(dim=1, keepdim=True)
        norm_prev = h_prev.norm(dim=1, keepdim=True)
        scale = 2.0 * ctx.beta / h.size(0) * (norm - norm_prev)  # (N, 1)
        grad_h = grad + scale * _safe_unit(h, norm)
        grad_prev = -scale * _safe_unit(h_prev, norm_prev)
        return grad_h, grad_prev, None


def norm_stabilizer_penalty(hs: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """The regulariser itself for a whole ``(T, N, H)`` sequence (to report or to add to a loss)."""
    norms = hs.norm(dim=2)  # (T, N)
    return beta * (norms[1:] - norms[:-1]).pow(2).sum() / hs.size(1)


class NormStabilizer(AbstractRecurrent):
    """Identity step module whose gradient includes the norm-stabilisation penalty.

    Args:
        beta: weight of the penalty.

    Shape:
        step input ``(N, H)`` → output ``(N, H)`` (the same values).

    State:
        the previous step's input ``h[t-1]``.

    Example:
        >>> model = Sequencer(nn.Sequential(FastLSTM(10, 20), NormStabilizer(beta=50)))
        >>> model(torch.randn(5, 4, 10)).shape
        torch.Size([5, 4, 20])
    """

    def __init__(self, beta: float = 1.0, rho: int = 99999) -> None:
        super().__init__(rho)
        self.beta = expect_float(type(self).__name__, beta, "beta", 0.0)

    def check_input(self, x: torch.Tensor) -> None:
        name = type(self).__name__
        expect_tensor(name, x)
        if x.dim() != 2:
            raise ValueError(f"{name}: expected input of shape (N, H), got {tuple(x.shape)}")
        expect_floating(name, x)

    def state_spec(self) -> StateSpec:
        return TensorSpec("h", (None,))  # the previous step's input, of any width

    def recurrent_step(
        self, h: torch.Tensor, h_prev: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if h_prev is None or not (torch.is_grad_enabled() and self.training):
            return h.view_as(h), h
        return _StabilizeGrad.apply(h, h_prev, self.beta), h

    def extra_repr(self) -> str:
        return ", ".join(p for p in (f"beta={self.beta}", super().extra_repr()) if p)
