"""Modules that act on each row of a batch independently, so a whole sequence can go through
them at once as one batch of ``T·N`` rows with the same result as ``T`` calls.

A ``Recursor`` over an ``nn.Sequential`` of such modules and step modules with sequence
kernels (``Sequencer(nn.Sequential(FastLSTM(…), nn.Linear(…)))``) runs every part over the
whole sequence in turn instead of stepping. Only the exact classes below qualify (a subclass
may do anything), without hooks; modules that draw random numbers in training
(``nn.Dropout``) qualify only in ``eval()``, since drawing one mask for the whole sequence
would give other numbers than drawing one per step.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules import module as _module

_ROW_WISE = (
    nn.Linear, nn.Bilinear, nn.Embedding, nn.Identity, nn.LayerNorm,
    nn.Tanh, nn.Sigmoid, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Softplus, nn.Softsign, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish,
    nn.Tanhshrink, nn.LogSigmoid, nn.PReLU,
)  # fmt: skip
_RANDOM_IN_TRAINING = (nn.Dropout, nn.AlphaDropout)
_OVER_FEATURES = (nn.Softmax, nn.LogSoftmax)  # row-wise when they normalise over dim 1 / -1


def _hooked(module: nn.Module) -> bool:
    return bool(
        module._forward_hooks or module._forward_pre_hooks
        or _module._global_forward_hooks or _module._global_forward_pre_hooks
    )  # fmt: skip


def is_row_wise(module: nn.Module) -> bool:
    """Whether ``module`` applied to ``(T·N, *)`` rows equals ``T`` calls on ``(N, *)``."""
    if _hooked(module):
        return False
    kind = type(module)
    if kind in _ROW_WISE:
        return kind is not nn.PReLU or bool(module.num_parameters == 1)
    if kind in _RANDOM_IN_TRAINING:
        return not module.training or bool(module.p == 0)
    if kind in _OVER_FEATURES:
        return module.dim in (1, -1)
    return False


def apply_to_rows(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module`` on ``x (T, N, *)`` as one batch of ``T·N`` rows → ``(T, N, *)``."""
    T, N = x.shape[:2]
    y = module(x.reshape(T * N, *x.shape[2:]))
    return y.view(T, N, *y.shape[1:])
