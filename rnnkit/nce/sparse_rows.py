"""Row gathers whose gradient is sparse: ``param[index]`` for an output layer's weight or bias.

``torch.nn.functional.embedding(..., sparse=True)`` gives a sparse gradient for a 2-D weight
only (a 1-D bias viewed as ``(V, 1)`` fails in backward). :func:`gather_rows` does the same
for any parameter whose first dim is ``V``: forward ``param[index]``, backward a sparse COO
gradient with one row per gathered index (duplicates are summed when it is coalesced), so
the gradient of a step holds ``O(len(index))`` numbers, not ``O(V)``.
"""

from __future__ import annotations

from typing import Any

import torch


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, param: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        ctx.size = param.shape
        return param.index_select(0, index.flatten()).view(*index.shape, *param.shape[1:])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (index,) = ctx.saved_tensors
        rows = index.flatten()
        values = grad.reshape(rows.numel(), *ctx.size[1:])  # (n, *)
        sparse = torch.sparse_coo_tensor(
            rows.unsqueeze(0), values, ctx.size, check_invariants=False
        )
        return sparse, None


def gather_rows(param: torch.Tensor, index: torch.Tensor, sparse: bool) -> torch.Tensor:
    """``param[index]`` (shape ``index.shape + param.shape[1:]``); a sparse gradient if ``sparse``."""
    if not sparse:
        return param[index]
    return _GatherRows.apply(param, index)
