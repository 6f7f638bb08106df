"""SeqGRU: fast whole-sequence GRU on the fused kernel, the original ``nn.SeqGRU``.

PyTorch's fused GRU (like cuDNN's) applies the reset gate after the recurrent product;
its exact step twin is ``GRU(..., reset_after=True)`` (``to_gru()``/``SeqGRU.from_gru()``).
The original's ``SeqGRU`` applied it before (Cho et al.), which only the step ``GRU`` offers.
"""

from __future__ import annotations

import torch

from ..recurrent._params import new_parameter
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
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, output_size, batch_first, maskzero)
        H, D = self.hidden_size, self.input_size
        kw = dict(device=device, dtype=dtype)
        self.weight_ih = new_parameter(3 * H, D, **kw)
        self.weight_hh = new_parameter(3 * H, H, **kw)
        self.bias_ih = new_parameter(3 * H, **kw)
        self.bias_hh = new_parameter(3 * H, **kw)
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def _weights(self):
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]

    def to_gru(self) -> GRU:
        """A ``GRU(reset_after=True)`` step module with copies of these weights."""
        w = self.weight_ih
        step = GRU(
            self.input_size, self.hidden_size, reset_after=True, device=w.device, dtype=w.dtype
        )
        if self.maskzero:
            step.mask_zero(1)
        step.load_state_dict({k: v.detach().clone() for k, v in self.state_dict().items()})
        return step

    @classmethod
    def from_gru(cls, gru: GRU, batch_first: bool = False, maskzero: bool | None = None) -> SeqGRU:
        """A ``SeqGRU`` with copies of a ``GRU(reset_after=True)``'s weights.

        ``maskzero`` defaults to whether ``gru`` masks (``mask_zero(1)``/``trim_zero(1)``).
        """
        if not isinstance(gru, GRU) or not gru.reset_after:
            got = type(gru).__name__ + (" with reset_after=False" if isinstance(gru, GRU) else "")
            raise ValueError(f"SeqGRU.from_gru: expected a GRU with reset_after=True, got {got}")
        if maskzero is None:
            maskzero = gru.mask_n_input_dim == 1
        w = gru.weight_ih
        seq = cls(
            gru.input_size, gru.output_size, batch_first, maskzero, device=w.device, dtype=w.dtype
        )
        seq.load_state_dict({k: v.detach().clone() for k, v in gru.named_parameters()})
        return seq
