"""SeqRNN (alias VanillaRNN): fast whole-sequence tanh RNN, torch-rnn's ``nn.VanillaRNN``."""

from __future__ import annotations

import torch

from .fused import FusedRecurrentLayer


class SeqRNN(FusedRecurrentLayer):
    """Elman RNN over a whole sequence: ``h[t] = tanh(W_ih x[t] + b_ih + W_hh h[t-1] + b_hh)``.

    Parameters as ``torch.nn.RNN`` (``weight_ih (H, D)``, ``weight_hh (H, H)``, ``bias_ih``,
    ``bias_hh``). Time-major like everything else; torch-rnn's ``(N, T, D)`` layout is
    ``batch_first=True``. ``maskzero`` as in :class:`SeqLSTM`.

    Shape:
        ``x (T, N, D)`` → ``(T, N, H)``; ``state`` is ``h0 (N, H)``.

    Example:
        >>> rnn = VanillaRNN(10, 20)
        >>> rnn(torch.randn(5, 4, 10)).shape
        torch.Size([5, 4, 20])
    """

    _kernel = torch.rnn_tanh

    def __init__(
        self,
        input_size: int,
        output_size: int,
        batch_first: bool = False,
        *,
        maskzero: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, output_size, batch_first, maskzero)
        self._create_weights(1, self.hidden_size, device, dtype)
        self.reset_parameters()

    def _step(self, projected, state):
        h = torch.tanh(projected + torch.nn.functional.linear(state[0], self.weight_hh, self.bias_hh))
        return h, [h]


VanillaRNN = SeqRNN
