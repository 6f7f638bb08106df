"""Multi-Function Recurrent Unit step (Weissenborn & Rocktäschel 2016; the original ``nn.MuFuRu``).

Shapes: ``x (N, D)``, ``s (N, H)``. The feature vector uses a sigmoid, as the original's
code does (its README says tanh).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def _sqrt_diff(s: Tensor, v: Tensor) -> Tensor:
    return 0.25 * torch.sqrt(torch.abs(s - v))


# name -> op(s, v); the order here is the default (all eight) and the order of the op logits.
MUFURU_OPS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "keep": lambda s, v: s,
    "replace": lambda s, v: v,
    "mul": lambda s, v: s * v,
    "diff": lambda s, v: s - v,
    "forget": lambda s, v: torch.zeros_like(s),
    "sqrt_diff": _sqrt_diff,
    "max": torch.maximum,
    "min": torch.minimum,
}


def mufuru_step(
    x: Tensor,
    s: Tensor,
    ops: tuple[str, ...],
    weight_xr: Tensor,
    bias_xr: Tensor,
    weight_sr: Tensor,
    bias_sr: Tensor,
    weight_v: Tensor,
    bias_v: Tensor,
    weight_p: Tensor,
    bias_p: Tensor,
) -> Tensor:
    """One MuFuRu step.

    ``r = σ(W_xr x + b_xr + W_sr s + b_sr)``; ``v = σ(W_v [x, r ⊙ s] + b_v)``;
    ``p = softmax_j(W_p [x, s] + b_p)``, the logits viewed as ``(N, J, H)`` and normalised over
    the ``J`` ops independently for each hidden unit; ``s' = Σ_j p_j ⊙ op_j(s, v)``.
    """
    r = torch.sigmoid(F.linear(x, weight_xr, bias_xr) + F.linear(s, weight_sr, bias_sr))
    v = torch.sigmoid(F.linear(torch.cat((x, r * s), 1), weight_v, bias_v))
    logits = F.linear(torch.cat((x, s), 1), weight_p, bias_p)
    p = logits.view(s.size(0), len(ops), s.size(1)).softmax(1)  # (N, J, H)
    results = torch.stack([MUFURU_OPS[name](s, v) for name in ops], 1)  # (N, J, H)
    return (p * results).sum(1)
