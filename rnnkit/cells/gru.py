"""GRU step function, in both variants (reset before or after the recurrent product).

Gate blocks are ordered ``[r, z, n]`` with weights ``(3H, D)`` / ``(3H, H)``, the layout
of ``torch.nn.GRU``. Shapes: ``x (N, D)``, ``h (N, H)``; dropout masks ``(3, N or 1, D)``
and ``(3, N or 1, H)``, one mask per gate path (Gal & Ghahramani).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _project(inp: Tensor, weight: Tensor, bias: Tensor | None, mask: Tensor | None) -> Tensor:
    """``inp @ weight.T + bias`` for the three gate blocks, each with its own dropout mask."""
    if mask is None:
        return F.linear(inp, weight, bias)
    w = weight.view(3, -1, weight.size(1))  # (3, H, D)
    out = torch.bmm(inp.unsqueeze(0) * mask, w.transpose(1, 2))  # (3, N, H)
    if bias is not None:
        out = out + bias.view(3, 1, -1)
    return torch.cat(out.unbind(0), 1)  # (N, 3H)


def gru_step(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    *,
    reset_after: bool = False,
    x_mask: Tensor | None = None,
    h_mask: Tensor | None = None,
    input_projection: Tensor | None = None,
) -> Tensor:
    """One GRU step.

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``;
    Cho et al. (``reset_after=False``): ``n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)``;
    cuDNN / ``torch.nn.GRU`` (``reset_after=True``): ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``;
    ``h' = (1 - z) ⊙ n + z ⊙ h``. ``input_projection (N, 3H)``, when given, is
    ``W_ih x + b_ih`` computed beforehand (for all steps at once).
    """
    if input_projection is None and reset_after and x_mask is None and h_mask is None:
        return torch.gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    H = h.size(1)
    if input_projection is None:
        input_projection = _project(x, weight_ih, bias_ih, x_mask)
    i_r, i_z, i_n = input_projection.chunk(3, 1)
    hr = h if h_mask is None else h * h_mask[0]
    hz = h if h_mask is None else h * h_mask[1]
    hn = h if h_mask is None else h * h_mask[2]
    b_hh = (None, None, None) if bias_hh is None else bias_hh.split(H)
    r = torch.sigmoid(i_r + F.linear(hr, weight_hh[:H], b_hh[0]))
    z = torch.sigmoid(i_z + F.linear(hz, weight_hh[H : 2 * H], b_hh[1]))
    if reset_after:
        n = torch.tanh(i_n + r * F.linear(hn, weight_hh[2 * H :], b_hh[2]))
    else:
        n = torch.tanh(i_n + F.linear(r * hn, weight_hh[2 * H :], b_hh[2]))
    return n + z * (h - n)
