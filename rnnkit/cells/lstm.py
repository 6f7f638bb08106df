"""LSTM step functions: fused-gate (FastLSTM), peephole (LSTM) and the gate nonlinearity.

Gate blocks are ordered ``[i, f, g, o]`` and weights are ``(4H, D)`` / ``(4H, H)``, the
layout of ``torch.nn.LSTM``, so parameters copy across to the fused kernels unchanged.
Shapes: ``x (N, D)``, ``h, c (N, H)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def lstm_step(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One step of the LSTM without peepholes (Hochreiter & Schmidhuber; Gers et al.).

    ``a = W_ih x + b_ih + W_hh h + b_hh``; ``i, f, o = σ(a_i, a_f, a_o)``, ``g = tanh(a_g)``;
    ``c' = f ⊙ c + i ⊙ g``; ``h' = o ⊙ tanh(c')``.
    """
    # ATen's composite cell: the same equations in one call, far less Python overhead.
    h_new, c_new = torch.lstm_cell(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
    return h_new, c_new


def lstm_pointwise(
    gates: Tensor, c: Tensor, cell_norm: Callable[[Tensor], Tensor] | None = None
) -> tuple[Tensor, Tensor]:
    """The LSTM's element-wise part from pre-activations ``gates (N, 4H)``.

    ``cell_norm`` (recurrent batch normalisation) is applied to ``c'`` inside the output tanh.
    """
    i, f, g, o = gates.chunk(4, 1)
    c_new = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
    c_out = c_new if cell_norm is None else cell_norm(c_new)
    h_new = torch.sigmoid(o) * torch.tanh(c_out)
    return h_new, c_new


def peephole_lstm_step(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias: Tensor,
    weight_ci: Tensor,
    weight_cf: Tensor,
    weight_co: Tensor,
    input_projection: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One step of the LSTM with diagonal peepholes (Graves 2013; the original ``nn.LSTM``).

    ``i = σ(W_xi x + W_hi h + w_ci ⊙ c + b_i)``, ``f = σ(W_xf x + W_hf h + w_cf ⊙ c + b_f)``,
    ``g = tanh(W_xg x + W_hg h + b_g)``, ``c' = f ⊙ c + i ⊙ g``,
    ``o = σ(W_xo x + W_ho h + w_co ⊙ c' + b_o)`` (the output gate sees the *new* cell),
    ``h' = o ⊙ tanh(c')``.
    """
    if input_projection is None:  # W_ih x + b, unless computed beforehand for all steps
        input_projection = F.linear(x, weight_ih, bias)
    a_i, a_f, a_g, a_o = torch.addmm(input_projection, h, weight_hh.t()).chunk(4, 1)
    i = torch.sigmoid(a_i + weight_ci * c)
    f = torch.sigmoid(a_f + weight_cf * c)
    c_new = f * c + i * torch.tanh(a_g)
    o = torch.sigmoid(a_o + weight_co * c_new)
    return o * torch.tanh(c_new), c_new
