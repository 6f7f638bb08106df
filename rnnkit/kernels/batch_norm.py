"""``BatchNorm1d`` applied to every step of a hoisted projection at once.

A step module that normalises its input projection (recurrent batch normalisation,
Cooijmans et al.) calls one ``BatchNorm1d`` at every step: in training each step is
normalised by its own batch statistics (over the ``N`` rows of that step), and the running
statistics are updated once per step, in order. Neither depends on the recurrence, so over a
whole sequence the statistics are computed for all steps at once and the running statistics
get the same ``T`` updates, in the same order, as stepping gives.

Shapes: ``x (N, T, C)`` → ``(N, T, C)`` (batch-major).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def batch_norm_steps(bn: nn.BatchNorm1d, x: Tensor) -> Tensor:
    """``stack([bn(x[t]) for t in range(T)], 1)`` for ``x (N, T, C)`` → ``(N, T, C)``, every
    step's statistics at once (batch-major, so that all ``T·C`` columns are one batch norm)."""
    N, T, C = x.shape
    use_batch_stats = bn.training or not bn.track_running_stats
    if not use_batch_stats:  # running statistics: one call over all rows
        return F.batch_norm(
            x.reshape(N * T, C), bn.running_mean, bn.running_var, bn.weight, bn.bias,
            False, 0.0, bn.eps,
        ).view(N, T, C)  # fmt: skip
    if N <= 1:  # BatchNorm1d's own error (one value per channel) or empty-batch behaviour
        return torch.stack([bn(step) for step in x.unbind(1)], 1)
    flat = x.reshape(N, T * C)  # column t·C + c: channel c of step t
    weight = None if bn.weight is None else bn.weight.repeat(T)
    bias = None if bn.bias is None else bn.bias.repeat(T)
    # native_batch_norm also returns the statistics it used (a column-wise var_mean over
    # (N, T·C) is ~50× slower than the whole normalisation on the CPU).
    out, mean, invstd = torch.native_batch_norm(flat, weight, bias, None, None, True, 0.0, bn.eps)
    track_batch_statistics(bn, mean.view(T, C), invstd.view(T, C), N)
    return out.view(N, T, C)


def track_batch_statistics(bn: nn.BatchNorm1d, mean: Tensor, invstd: Tensor, rows: int) -> None:
    """Give ``bn``'s running statistics the ``T`` updates that ``T`` training calls make, from
    each step's batch ``mean (T, C)`` and ``invstd (T, C)`` over ``rows`` rows (what
    ``native_batch_norm`` returns); nothing unless ``bn`` is training and tracks them."""
    if bn.training and bn.track_running_stats:
        with torch.no_grad():
            unbiased_var = (invstd.pow(-2) - bn.eps) * (rows / (rows - 1))
        _update_running_stats(bn, mean, unbiased_var)


@torch.no_grad()
def _update_running_stats(bn: nn.BatchNorm1d, mean: Tensor, unbiased_var: Tensor) -> None:
    """The ``T`` updates one call per step makes, ``r ← (1 − m_t) r + m_t · stat_t`` for
    ``t = 0 .. T-1`` (unbiased variance; ``momentum=None``: ``m_t = 1 / count``, the
    cumulative average), as one weighted sum: ``r_T = Π(1 − m_t) r_0 + Σ_t w_t stat_t`` with
    ``w_t = m_t Π_{s>t} (1 − m_s)`` (one product instead of ``4T`` small updates)."""
    # Only called when bn.track_running_stats, so the buffers exist (typed Optional).
    count = cast(Tensor, bn.num_batches_tracked)
    running_mean, running_var = cast(Tensor, bn.running_mean), cast(Tensor, bn.running_var)
    T, start = mean.size(0), int(count)
    rates = [bn.momentum if bn.momentum is not None else 1.0 / (start + t + 1) for t in range(T)]
    weights, keep = [0.0] * T, 1.0  # keep: Π(1 − m_s) over the steps after t
    for t in range(T - 1, -1, -1):
        weights[t] = rates[t] * keep
        keep *= 1.0 - rates[t]
    w = torch.tensor(weights, dtype=mean.dtype, device=mean.device)
    running_mean.mul_(keep).add_(w @ mean)
    running_var.mul_(keep).add_(w @ unbiased_var)
    count.add_(T)
