"""SeqGRU: fast whole-sequence GRU on the fused kernel, the original ``nn.SeqGRU``.

PyTorch's fused GRU (like cuDNN's) applies the reset gate after the recurrent product;
its exact step twin is ``GRU(..., reset_after=True)`` (``to_gru()``/``SeqGRU.from_gru()``).
The original's ``SeqGRU`` applied it before (Cho et al.), which only the step ``GRU`` offers.
"""

from __future__ import annotations

import torch

from ..kernels.gru import gru_sequence
from ..recurrent.gru import GRU
from .fused import FusedRecurrentLayer


class SeqGRU(FusedRecurrentLayer):
    """GRU over a whole sequence in one fused kernel call.

    ``r, z = σ(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})``;
    ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``; ``h' = (1 - z) ⊙ n + z ⊙ h``.
    Parameters as ``torch.nn.GRU``. ``maskzero`` as in :class:`SeqLSTM`.

    Shape:
        ``x (T, N, D)`` → ``(T, N, H)``; ``state`` is ``h0 (N, H)``.

    Example:
        >>> gru = SeqGRU(10, 20, batch_first=True)
        >>> gru(torch.randn(4, 5, 10)).shape
        torch.Size([4, 5, 20])
    """

    _kernel = torch.gru

    def __init__(
        self,
        input_size: int,
        output_size: int,
        batch_first: bool = False,
        maskzero: bool = False,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, output_size, batch_first, maskzero)
        self._create_weights(3, self.hidden_size, device, dtype)
        self.reset_parameters()

    _resets_in_kernel = True

    def _step(self, projected, state):
        x_r, x_z, x_n = projected.chunk(3, 1)
        h_r, h_z, h_n = torch.nn.functional.linear(state[0], self.weight_hh, self.bias_hh).chunk(3, 1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        h = (1 - z) * torch.tanh(x_n + r * h_n) + z * state[0]  # the reset gate after the product
        return h, [h]

    def _run_resetting(self, x, hx, valid):
        out, h = gru_sequence(
            x, hx[0].squeeze(0), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
            reset_after=True, valid=valid,
        )  # fmt: skip
        return out, [h.unsqueeze(0)]

    def to_gru(self) -> GRU:
        """A ``GRU(reset_after=True)`` step module with copies of these weights."""
        w = self.weight_ih
        return self._copy_into(
            GRU(self.input_size, self.hidden_size, reset_after=True, device=w.device, dtype=w.dtype)
        )

    @classmethod
    def from_gru(cls, gru: GRU, batch_first: bool = False, maskzero: bool | None = None) -> SeqGRU:
        """A ``SeqGRU`` with copies of a ``GRU(reset_after=True)``'s weights.

        ``maskzero`` defaults to whether ``gru`` masks (``mask_zero(1)``/``trim_zero(1)``).
        """
        if not isinstance(gru, GRU) or not gru.reset_after:
            got = type(gru).__name__ + (" with reset_after=False" if isinstance(gru, GRU) else "")
            raise ValueError(f"SeqGRU.from_gru: expected a GRU with reset_after=True, got {got}")
        return cls._copy_from(gru, batch_first, maskzero)
