"""The fused layers' ``maskzero=True`` path: padded batches on the dense fused kernel.

Each row's contiguous block of real steps is shifted to start at ``t = 0`` and the batch
runs on the layer's dense kernel (or, where an LSTM's final cell after each row's last real
step is needed, its packed-sequence path); zero steps inside a row, and ``SeqLSTM``/``SeqGRU``
keeping their final state, go to the layer's ``_run_resetting`` (rnnkit's own whole-sequence
kernels, which reset a row's state at every padded step).

Shapes: ``x (T, N, D)``, ``hx`` the kernel's state (each ``(1, N, *)``), ``valid (T, N)`` bool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

if TYPE_CHECKING:
    from .fused import FusedRecurrentLayer


def _run_packed(
    layer: FusedRecurrentLayer, xs: torch.Tensor, hx: list[torch.Tensor], length: torch.Tensor,
    T: int,
) -> tuple[torch.Tensor, list[torch.Tensor]]:  # fmt: skip
    """The kernel's packed-sequence path over rows aligned at ``t = 0`` of ``length`` steps."""
    packed = pack_padded_sequence(xs, length.cpu(), enforce_sorted=False)
    # enforce_sorted=False: the indices are never None (torch types them Optional)
    h_sorted = [h.index_select(1, packed.sorted_indices) for h in hx]  # type: ignore[arg-type]
    data, finals = layer._run(packed.data, h_sorted, packed.batch_sizes)
    finals = [f.index_select(1, packed.unsorted_indices) for f in finals]
    out_packed = PackedSequence(
        data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
    )
    out_rows, _ = pad_packed_sequence(out_packed, total_length=T)  # (T, K, R)
    return out_rows, finals


def run_masked(
    layer: FusedRecurrentLayer, x: torch.Tensor, hx: list[torch.Tensor], valid: torch.Tensor,
    need_final: bool,
) -> tuple[torch.Tensor, list[torch.Tensor] | None]:  # fmt: skip
    """Run each row's contiguous block of real steps, from zero state unless it starts at 0.

    Matches a step module with ``mask_zero``: padded steps output zeros and reset the
    state, so a row whose real steps start after ``t = 0`` starts from zeros and a row
    whose real steps end before ``T`` ends with a zero state.
    """
    T, N, D = x.shape
    lengths = valid.sum(0)  # (N,)
    starts = valid.to(torch.uint8).argmax(0)  # first real step (0 for empty rows)
    t = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
    contiguous = (t >= starts) & (t < starts + lengths)
    if not torch.equal(contiguous, valid) or (
        need_final and layer._is_lstm and layer._resets_in_kernel
    ):
        # A zero step inside a row resets its state there (the original's SeqLSTM/SeqGRU).
        # An LSTM's final cell after each row's last real step is not in the dense kernel's
        # output, and the packed path is slower than rnnkit's own masked kernel.
        return layer._run_resetting(x, hx, valid)
    rows = (lengths > 0).nonzero().squeeze(1)
    out_size = layer._state_sizes()[0]
    if rows.numel() == 0:
        # All padding: zeros, kept on the graph so that backward() gives zero gradients.
        zero = sum(w[:0].sum() for w in layer._weights()) + x[:0].sum()
        return x.new_zeros(T, N, out_size) + zero, [
            torch.zeros_like(h) + h[:0].sum() for h in hx
        ]
    s, length = starts[rows], lengths[rows]
    # Shift each row so that its real steps start at t = 0, run, shift back.
    forward_idx = (t + s).clamp(max=T - 1)  # (T, K)
    xs = x.index_select(1, rows).gather(0, forward_idx.unsqueeze(2).expand(-1, -1, D))
    starts_at_zero = (s == 0).view(1, -1, 1)
    h_rows = [torch.where(starts_at_zero, h.index_select(1, rows), 0.0) for h in hx]
    if need_final and layer._is_lstm:
        out_rows, finals = _run_packed(layer, xs, h_rows, length, T)
    else:
        # Aligned at t = 0, every row's real steps come first, and what the kernel computes
        # after a row's end never reaches them: the dense kernel (oneDNN on CPU, much
        # faster than the packed path) over max(length) steps gives the same outputs.
        t_max = int(length.max())
        out_rows, _ = layer._run(xs[:t_max], h_rows)
        if t_max < T:
            out_rows = torch.cat((out_rows, out_rows.new_zeros(T - t_max, *out_rows.shape[1:])))
        last = (length - 1).view(1, -1, 1).expand(1, -1, out_size)
        finals = [out_rows.gather(0, last)]  # h after each row's last real step (GRU, RNN)
    back_idx = (t - s).clamp(min=0)
    out_rows = out_rows.gather(0, back_idx.unsqueeze(2).expand(-1, -1, out_size))
    out_rows = out_rows.masked_fill(~valid.index_select(1, rows).unsqueeze(2), 0.0)
    output = x.new_zeros(T, N, out_size).index_copy(1, rows, out_rows)
    ends_at_last = (s + length == T).view(1, -1, 1)
    final = [
        torch.zeros_like(h).index_copy(1, rows, torch.where(ends_at_last, f, 0.0))
        for h, f in zip(hx, finals)
    ]
    return output, final
