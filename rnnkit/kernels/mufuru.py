"""Whole-sequence MuFuRu: the input parts of all steps hoisted, the recurrent products deferred.

Per step, MuFuRu multiplies ``x`` by the ``x`` columns of ``W_xr``, ``W_v`` and ``W_p`` and the
state by ``W_sr``, the ``s`` columns of ``W_p`` and (after the reset) ``W_v``'s: of its ten
``H``-wide products, five depend only on ``x``. Here those are one product over all ``T·N``
rows (:class:`~rnnkit.kernels.deferred.HoistedLinear`), the two that read ``s`` are one
deferred product and the one that reads ``r ⊙ s`` another
(:class:`~rnnkit.kernels.deferred.DeferredLinear`: weight gradients as one product each at
the end of backward). The element-wise part (gates, softmax over the ops, the ops) is the
step path's, with autograd.

Shapes: ``x (T, N, D)``, ``s (N, H)``; weights as in :func:`rnnkit.cells.mufuru.mufuru_step`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .deferred import DeferredLinear, HoistedLinear
from .intercept import chunked


# A graph break under torch.compile, as the other kernels: tracing would unroll every step.
@torch.compiler.disable
def mufuru_sequence(
    x: Tensor,
    s: Tensor,
    ops: dict[str, Callable[[Tensor, Tensor], Tensor]],
    weight_xr: Tensor,
    bias_xr: Tensor,
    weight_sr: Tensor,
    bias_sr: Tensor,
    weight_v: Tensor,
    bias_v: Tensor,
    weight_p: Tensor,
    bias_p: Tensor,
    valid: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """``T`` MuFuRu steps: ``(output (T, N, H), s_T)``; ``valid (T, N)``: zero padded rows.

    ``ops``: name -> ``op(s, v)``, in the order of the op logits (``rnnkit.cells.mufuru``'s
    ``MUFURU_OPS`` restricted to the module's ops).
    """
    weights = (weight_xr, bias_xr, weight_sr, bias_sr, weight_v, bias_v, weight_p, bias_p)
    return chunked(lambda x, s, valid: _run(x, s, ops, weights, valid), x, s, valid)


def _run(x, s, ops, weights, valid):
    weight_xr, bias_xr, weight_sr, bias_sr, weight_v, bias_v, weight_p, bias_p = weights
    T, N, D = x.shape
    H, J = s.size(1), len(ops)
    fns = list(ops.values())
    # With only keep/forget the output never sees r or v: leave them out, so their weights
    # get no gradient (None), as on the step path, where they are off the output's graph.
    uses_v = any(name not in ("keep", "forget") for name in ops)
    if uses_v:
        # Rows [r | v | p] of the input part; b_sr joins b_xr (both are added before σ).
        hoisted = HoistedLinear(
            x,
            torch.cat((weight_xr, weight_v[:, :D], weight_p[:, :D])),  # (2H + JH, D)
            torch.cat((bias_xr + bias_sr, bias_v, bias_p)),
            split=(H, H, J * H),
        )
        from_s = DeferredLinear(torch.cat((weight_sr, weight_p[:, D:])), split=(H, J * H))
        from_rs = DeferredLinear(weight_v[:, D:])  # (H, H)
    else:
        hoisted = HoistedLinear(x, weight_p[:, :D], bias_p, split=(J * H,))
        from_s = DeferredLinear(weight_p[:, D:], split=(J * H,))
    outputs = []
    v = None
    for t in range(T):
        if uses_v:
            a_r, a_v, a_p = hoisted[t]
            q_r, q_p = from_s(s)
            r = torch.sigmoid(a_r + q_r)
            v = torch.sigmoid(a_v + from_rs(r * s))
        else:
            (a_p,), (q_p,) = hoisted[t], from_s(s)
        p = (a_p + q_p).view(N, J, H).softmax(1)  # (N, J, H)
        s = (p * torch.stack([fn(s, v) for fn in fns], 1)).sum(1)
        if valid is not None:
            pad = valid[t] == 0
            if bool(pad.any()):
                s = s.masked_fill(pad.unsqueeze(1), 0)
        outputs.append(s)
    return torch.stack(outputs), s
