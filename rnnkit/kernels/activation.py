"""``tanh`` through the sigmoid, for the per-step loops of the sequence kernels.

On the CPU, ATen's ``tanh`` runs on a vectorised-math path that splits its work across the
OpenMP threads from 2,048 elements on, so the ``(32, 128)`` block of one step already forks
threads (and waits for a busy core), and it costs about 3× a sigmoid per element on the
machines we measured. ``sigmoid`` splits only from 32,768 elements. So the kernels compute
``tanh(x) = 2σ(2x) − 1``: the factor 2 is folded into whatever produces ``x`` (a doubled
weight block, a cell carried doubled), leaving one sigmoid and one ``add`` per use.
"""

from __future__ import annotations

import torch
from torch import Tensor


def minus_one(like: Tensor) -> Tensor:
    """The 0-dim ``-1`` that :func:`tanh_from_sigmoid_` adds, made once per kernel call."""
    return torch.full((), -1.0, dtype=like.dtype, device=like.device)


def tanh_from_sigmoid_(s: Tensor, m1: Tensor) -> Tensor:
    """``s ← 2 s − 1`` in place (one op): ``tanh(x)`` from ``s = σ(2x)``; ``m1`` is
    :func:`minus_one`'s."""
    return torch.add(m1, s, alpha=2, out=s)
