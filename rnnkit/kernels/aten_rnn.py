"""ATen's fused RNN kernels (what ``torch.nn.LSTM``/``GRU`` call) as rnnkit's where they are the
faster ones.

FastLSTM's equations are ``torch.nn.LSTM``'s (gates ``[i, f, g, o]``, one bias), so an
unmasked call without peepholes can run on ATen's whole-sequence LSTM: oneDNN's LSTM
primitive on the CPU in float32, cuDNN's on a GPU. On the CPU it beats rnnkit's own kernel
(:mod:`rnnkit.kernels.lstm`) without gradients at every size we measured, and in training
for small per-step products; rnnkit's kernel is as fast or faster in training from
``H = 768`` or ``N·H ≥ 32·512``. Measured on a 2-core AMD EPYC (2026-12-04, 2 threads,
``T = 50``, float32; ATen's speed over rnnkit's kernel, training / inference):
``N = 32``: 1.42 / 2.17 at ``H = 128``, 1.40 / 1.90 at 256, 1.11 / 1.58 at 384, 1.02 / 1.29
at 512, 0.93 / 1.24 at 768, 0.86 / 0.98 at 1024; ``N = 8, H = 512``: 1.22 / 1.56;
``N = 64, H = 512``: 1.02 / 1.13; ``N = 128, H = 256``: 0.94 / 1.53;
``T = 100, N = 64, H = 1024``: 0.96 / 1.07. The crossover is a property of the machine.

The GRU's reset-after candidate is ``torch.nn.GRU``'s, but on the CPU rnnkit's GRU kernel
(:mod:`rnnkit.kernels.gru`) is faster than ATen's in training at every size we measured
(ATen's speed over rnnkit's: 0.93 / 0.81 / 0.65 at ``N = 32, H = 128 / 512 / 1024``), so
only on a GPU does a GRU call without dropout or padding go to ATen (cuDNN's kernel; a step
loop of small kernels would be bound by their launches there).

Without gradients the steps run in chunks of :data:`~rnnkit.kernels.lstm.INFERENCE_CHUNK`
(the state carried from one to the next), so memory stays the output's plus one chunk's
workspace however long the sequence.

Shapes: ``x (T, N, D)``, ``h0, c0 (N, H)``, ``weight_ih (GH, D)``, ``weight_hh (GH, H)``,
biases ``(GH,)`` (``G = 4`` for the LSTM, 3 for the GRU).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

# Training runs on ATen up to this H and below this N·H (see the module docstring; at
# N = 32, H = 512 the two kernels tie, 1.02x, and rnnkit's keeps that size).
MAX_TRAINING_HIDDEN = 512
TRAINING_ROW_WIDTH_LIMIT = 32 * 512


def aten_lstm_pays(x: Tensor, hidden_size: int, training: bool) -> bool:
    """Whether :func:`aten_lstm_sequence` is the faster kernel for ``x (T, N, D)``."""
    T, N = x.shape[:2]
    if T == 0 or N == 0:
        return False  # the kernels' own empty-input handling
    if x.device.type == "cuda":
        return True  # cuDNN's kernel
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return False  # ATen's generic path there is a step loop of its own
    if not torch.backends.mkldnn.is_available():
        return False
    return not training or (
        hidden_size <= MAX_TRAINING_HIDDEN and N * hidden_size < TRAINING_ROW_WIDTH_LIMIT
    )


def aten_gru_pays(x: Tensor) -> bool:
    """Whether :func:`aten_gru_sequence` is the faster kernel for ``x (T, N, D)``: on a GPU."""
    return x.device.type == "cuda" and x.size(0) > 0 and x.size(1) > 0


def _run(kernel: Callable[..., Any], x: Tensor, state: Any, params: list[Tensor], hidden: int,
         chunk: int) -> tuple[Tensor, Any]:  # fmt: skip
    """``kernel`` (``torch.lstm``/``torch.gru``, one layer) over ``x (T, N, D)`` from ``state``:
    ``(output (T, N, hidden), final state)``; without gradients ``chunk`` steps per call."""
    tensors = [x, *params, *(state if isinstance(state, tuple) else (state,))]
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    if x.size(0) <= chunk or grad:
        # train=True whenever a gradient is wanted: cuDNN keeps its backward's workspace only
        # in training mode (dropout is 0, so the flag changes nothing else).
        out, *final = kernel(x, state, params, True, 1, 0.0, grad, False, False)
        return out, final
    out = x.new_empty(x.size(0), x.size(1), hidden)
    for start in range(0, x.size(0), chunk):
        part, *final = kernel(x[start : start + chunk], state, params, True, 1, 0.0, False,
                              False, False)  # fmt: skip
        out[start : start + part.size(0)] = part
        state = tuple(final) if isinstance(state, tuple) else final[0]
    return out, final


def aten_lstm_sequence(
    x: Tensor, h0: Tensor, c0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor,
    chunk: int,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """All ``T`` steps of FastLSTM on ``torch.lstm``: ``(output (T, N, H), h_T, c_T)``.

    ``bias`` is ``b_ih + b_hh``. Differentiable in every argument; without gradients (no
    argument requires one, or grad mode off) the steps run ``chunk`` at a time.
    """
    params = [weight_ih, weight_hh, bias, torch.zeros_like(bias)]
    hx = (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous())
    out, (h, c) = _run(torch.lstm, x, hx, params, h0.size(1), chunk)
    return out, h.squeeze(0), c.squeeze(0)


def aten_gru_sequence(
    x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor,
    bias_hh: Tensor, chunk: int,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """All ``T`` steps of the reset-after GRU on ``torch.gru``: ``(output (T, N, H), h_T)``.

    Differentiable in every argument; without gradients the steps run ``chunk`` at a time.
    """
    params = [weight_ih, weight_hh, bias_ih, bias_hh]
    out, (h,) = _run(torch.gru, x, h0.unsqueeze(0).contiguous(), params, h0.size(1), chunk)
    return out, h.squeeze(0)
