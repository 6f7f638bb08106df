"""Parameter creation and initialisation shared by the gated step modules."""

from __future__ import annotations

import math

import torch
from torch import nn


def new_parameter(
    *shape: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape, device=device, dtype=dtype))


def uniform_init(module: nn.Module, hidden_size: int) -> None:
    """``U(-1/√H, 1/√H)`` for every parameter directly owned by ``module`` (torch.nn.LSTM's init)."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters(recurse=False):
        nn.init.uniform_(p, -bound, bound)


def zeros_state(x: torch.Tensor, hidden_size: int, ref: torch.Tensor) -> torch.Tensor:
    """Zeros ``(N, H)`` with the batch size of ``x`` and the dtype/device of ``ref``."""
    return torch.zeros(x.size(0), hidden_size, dtype=ref.dtype, device=ref.device)
