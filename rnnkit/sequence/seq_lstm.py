"""SeqLSTM and SeqLSTMP: fast whole-sequence LSTMs on the fused kernels.

Replace the original ``nn.SeqLSTM``/``nn.SeqLSTMP`` (Element-Research/rnn) and torch-rnn's
``nn.LSTM``. ``SeqLSTM`` computes the ``FastLSTM`` equations and converts to and from it
(``to_fast_lstm()``, ``SeqLSTM.from_fast_lstm()``); ``SeqLSTMP`` adds the projection of
Sak et al. 2014 ("Long Short-Term Memory Recurrent Neural Network Architectures for Large
Scale Acoustic Modeling"), as used by the billion-word LM of Józefowicz et al. 2016.
"""

from __future__ import annotations

import warnings

import torch

from .._checks import expect_positive_int
from .._params import new_parameter
from ..cells.lstm import lstm_pointwise
from ..kernels.lstm import lstm_sequence
from ..recurrent.fast_lstm import FastLSTM
from .fused import FusedRecurrentLayer


def _lstm_cell(
    projected: torch.Tensor, state: list[torch.Tensor], weight_hh: torch.Tensor, bias_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(h, c)`` after one step from ``projected = W_ih x + b_ih (N, 4H)`` and ``state [h, c]``."""
    h, c = state
    return lstm_pointwise(projected + torch.nn.functional.linear(h, weight_hh, bias_hh), c)


class SeqLSTM(FusedRecurrentLayer):
    """LSTM over a whole sequence in one fused kernel call (``FastLSTM``'s equations).

    ``i, f, o = σ(·)``, ``g = tanh(·)`` of ``W_ih x[t] + b_ih + W_hh h[t-1] + b_hh``;
    ``c[t] = f ⊙ c[t-1] + i ⊙ g``; ``h[t] = o ⊙ tanh(c[t])``. Parameters as ``torch.nn.LSTM``
    (``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh``; gates ``[i, f, g, o]``).

    Args:
        input_size: ``D``. output_size: ``H``.
        batch_first: tensors are ``(N, T, *)``.
        maskzero: all-zero input steps are padding: their output is zero and they reset the
            state, exactly as ``Sequencer(FastLSTM(...).mask_zero(1))``: zero steps may be
            anywhere (a masked batch runs on rnnkit's whole-sequence LSTM kernel, which
            keeps each row's final state after its last real step).

    Shape:
        ``forward(x (T, N, D), state=None, return_state=False)`` → ``(T, N, H)``; ``state`` is
        ``(h0, c0)``, each ``(N, H)``; with ``return_state`` also the final ``(h, c)``.

    Example:
        >>> lstm = SeqLSTM(10, 20)
        >>> out, (h, c) = lstm(torch.randn(5, 4, 10), return_state=True)
        >>> out.shape, h.shape
        (torch.Size([5, 4, 20]), torch.Size([4, 20]))
    """

    _kernel = torch.lstm
    _is_lstm = True

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
        self._create_weights(4, self.hidden_size, device, dtype)
        self.reset_parameters()

    def _state_sizes(self):
        return [self.hidden_size, self.hidden_size]

    _resets_in_kernel = True

    def _step(self, projected, state):
        h, c = _lstm_cell(projected, state, self.weight_hh, self.bias_hh)
        return h, [h, c]

    def _run_resetting(self, x, hx, valid):
        bias = self.bias_ih + self.bias_hh
        h0, c0 = (h.squeeze(0) for h in hx)
        out, h, c = lstm_sequence(x, h0, c0, self.weight_ih, self.weight_hh, bias, valid=valid)
        return out, [h.unsqueeze(0), c.unsqueeze(0)]

    def to_fast_lstm(self) -> FastLSTM:
        """A ``FastLSTM`` with copies of these weights: stepping it gives the same outputs."""
        w = self.weight_ih
        return self._copy_into(
            FastLSTM(self.input_size, self.hidden_size, device=w.device, dtype=w.dtype)
        )

    @classmethod
    def from_fast_lstm(
        cls, lstm: FastLSTM, batch_first: bool = False, maskzero: bool | None = None
    ) -> SeqLSTM:
        """A ``SeqLSTM`` with copies of a ``FastLSTM``'s weights (which must not use batchnorm).

        ``maskzero`` defaults to whether ``lstm`` masks (``mask_zero(1)``/``trim_zero(1)``).
        """
        if not isinstance(lstm, FastLSTM) or lstm.batchnorm:
            got = type(lstm).__name__ + (
                " with batchnorm=True" if getattr(lstm, "batchnorm", False) else ""
            )
            raise ValueError(
                f"SeqLSTM.from_fast_lstm: expected a FastLSTM without batchnorm, got {got}"
            )
        return cls._copy_from(lstm, batch_first, maskzero)


class SeqLSTMP(FusedRecurrentLayer):
    """LSTM with a recurrent projection layer (LSTMP, Sak et al. 2014).

    As :class:`SeqLSTM` with cells and gates of size ``H``, but the hidden state is projected,
    ``r[t] = W_hr h[t]`` (``weight_hr (R, H)``), and ``r`` is both the output and what the
    recurrence sees (``weight_hh (4H, R)``). The parameters are those of
    ``torch.nn.LSTM(D, H, proj_size=R)``.

    Shape:
        ``x (T, N, D)`` → ``(T, N, R)``; ``state`` is ``(r0 (N, R), c0 (N, H))``.

    Example:
        >>> lstmp = SeqLSTMP(10, 32, 8)
        >>> lstmp(torch.randn(5, 4, 10)).shape
        torch.Size([5, 4, 8])
    """

    _kernel = torch.lstm
    _is_lstm = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        batch_first: bool = False,
        maskzero: bool = False,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, batch_first, maskzero)
        self._output_size = expect_positive_int(type(self).__name__, output_size, "output_size")
        self._create_weights(4, self._output_size, device, dtype)
        self.weight_hr = new_parameter(
            self._output_size, self.hidden_size, device=device, dtype=dtype
        )
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        """``R``, the size of the projected output (and of ``r``)."""
        return self._output_size

    def _weights(self):
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.weight_hr]

    def _kernel_weights(self) -> list[torch.Tensor]:
        """The weights as the kernel sees them, with the cell padded when ``R >= H``.

        ATen recognises a projection by ``h`` and ``c`` having different sizes, so for
        ``R >= H`` the cell gets ``R + 1 - H`` extra units whose weights and biases are zero:
        their gates see only zeros, their cell stays 0, and their projection column is zero,
        so the result is exactly that of the unpadded layer.
        """
        pad = self._cell_padding()
        weights = self._weights()
        if not pad:
            return weights
        w_ih, w_hh, b_ih, b_hh, w_hr = weights

        def pad_gates(w: torch.Tensor) -> torch.Tensor:  # (4H, *) -> (4(H + pad), *)
            blocks = w.view(4, self.hidden_size, *w.shape[1:])
            zeros = blocks.new_zeros(4, pad, *w.shape[1:])
            return torch.cat((blocks, zeros), 1).flatten(0, 1)

        w_hr = torch.cat((w_hr, w_hr.new_zeros(self.output_size, pad)), 1)
        return [pad_gates(w_ih), pad_gates(w_hh), pad_gates(b_ih), pad_gates(b_hh), w_hr]

    def _cell_padding(self) -> int:
        return max(0, self.output_size + 1 - self.hidden_size)

    def _run(self, x, hx, batch_sizes=None):
        pad = self._cell_padding()
        if pad:
            h0, c0 = hx
            hx = [h0, torch.cat((c0, c0.new_zeros(*c0.shape[:2], pad)), 2)]
        with warnings.catch_warnings():
            # On CPU, ATen notes once per call site that oneDNN has no projection kernel and
            # uses its native loop; that is expected here and not the user's concern.
            warnings.filterwarnings("ignore", "LSTM with projections is not supported")
            out, finals = super()._run(x, hx, batch_sizes)
        if pad:
            finals[1] = finals[1][..., : self.hidden_size]
        return out, finals

    def _state_sizes(self):
        return [self.output_size, self.hidden_size]

    def _step(self, projected, state):
        h, c = _lstm_cell(projected, state, self.weight_hh, self.bias_hh)
        r = torch.nn.functional.linear(h, self.weight_hr)  # the projection (N, R)
        return r, [r, c]

    def extra_repr(self) -> str:
        return super().extra_repr().replace(
            f"{self.input_size}, {self.hidden_size}",
            f"{self.input_size}, {self.hidden_size}, {self.output_size}", 1,
        )  # fmt: skip
