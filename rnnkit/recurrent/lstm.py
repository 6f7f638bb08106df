"""LSTM with diagonal peephole connections (Graves 2013), the original ``nn.LSTM``.

Element-Research/rnn's ``LSTM`` built each gate from its own ``Linear``, ``LinearNoBias``
and ``CMul``; here the four input and recurrent products are fused (gates ``[i, f, g, o]``)
and the peepholes are three ``(H,)`` vectors.
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import expect_features, expect_positive_int
from .._params import new_parameter, uniform_init, zeros_state
from .._state import StateSpec, TensorSpec
from ..cells.lstm import peephole_lstm_step
from ..kernels.lstm import lstm_sequence
from .abstract import AbstractRecurrent, SequenceKernel


class LSTM(AbstractRecurrent):
    """Peephole LSTM step module.

    ``i = σ(W_xi x + W_hi h + w_ci ⊙ c + b_i)``; ``f = σ(W_xf x + W_hf h + w_cf ⊙ c + b_f)``;
    ``g = tanh(W_xg x + W_hg h + b_g)``; ``c' = f ⊙ c + i ⊙ g``;
    ``o = σ(W_xo x + W_ho h + w_co ⊙ c' + b_o)``; ``h' = o ⊙ tanh(c')``.

    Parameters: ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias (4H)``, peepholes
    ``weight_ci``, ``weight_cf``, ``weight_co`` ``(H,)``.

    Shape:
        step input ``(N, D)`` → output ``(N, H)``.

    State:
        ``(h, c)``, each ``(N, H)``.

    Example:
        >>> lstm = LSTM(10, 20)
        >>> lstm(torch.randn(4, 10)).shape
        torch.Size([4, 20])
    """

    def __init__(
        self, input_size: int, output_size: int, rho: int = 9999, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__(rho)
        name = type(self).__name__
        self.input_size = expect_positive_int(name, input_size, "input_size")
        self.output_size = expect_positive_int(name, output_size, "output_size")
        H, D = output_size, input_size
        kw: dict[str, Any] = dict(device=device, dtype=dtype)
        self.weight_ih = new_parameter(4 * H, D, **kw)
        self.weight_hh = new_parameter(4 * H, H, **kw)
        self.bias = new_parameter(4 * H, **kw)
        self.weight_ci = new_parameter(H, **kw)
        self.weight_cf = new_parameter(H, **kw)
        self.weight_co = new_parameter(H, **kw)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight, bias and peephole from ``U(-1/√H, 1/√H)``."""
        uniform_init(self, self.output_size)

    def check_input(self, x: torch.Tensor) -> None:
        expect_features(type(self).__name__, x, self.input_size, self.weight_ih)

    def state_spec(self) -> StateSpec:
        return TensorSpec("h", (self.output_size,)), TensorSpec("c", (self.output_size,))

    def initial_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = zeros_state(x, self.output_size, self.weight_ih)
        return zeros, zeros

    def sequence_kernel(self) -> SequenceKernel:
        return self._run_sequence

    def _run_sequence(self, x, state, valid):
        peepholes = (self.weight_ci, self.weight_cf, self.weight_co)
        out, h, c = lstm_sequence(
            x, *state, self.weight_ih, self.weight_hh, self.bias, peepholes, valid
        )
        return out, (h, c)

    def recurrent_step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h, c = peephole_lstm_step(
            x, *state, self.weight_ih, self.weight_hh, self.bias,
            self.weight_ci, self.weight_cf, self.weight_co,
        )  # fmt: skip
        return h, (h, c)

    def extra_repr(self) -> str:
        return ", ".join(
            p for p in (f"{self.input_size}, {self.output_size}", super().extra_repr()) if p
        )
