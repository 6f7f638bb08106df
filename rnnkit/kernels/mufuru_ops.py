"""MuFuRu's eight ops for the sequence kernel: one step's values in place, and their slopes.

``rnnkit.cells.mufuru.MUFURU_OPS`` defines ``op(s, v)``; here :func:`write_op` writes one
step's value into a slice of a preallocated buffer (``out=``, no temporary), and
:func:`op_slopes` gives, for all steps at once, ``P_s = Σ_j p_j ∂op_j/∂s`` and
``P_v = Σ_j p_j ∂op_j/∂v``, the factors by which the backward multiplies ``dL/ds'``.

The slopes are those autograd gives the step path, exactly where the ops are not
differentiable:

- ``max``/``min``: a tie ``s = v`` splits the gradient ½/½ (``torch.maximum``'s backward);
- ``sqrt_diff = ¼ √|s − v|`` at ``s = v``: ``√``'s backward divides by 0 and ``|·|``'s
  multiplies by ``sign(0) = 0``, so autograd gives NaN, and so does ``0.125 sign(d) / √|d|``
  here: a gradient that reaches such a unit is NaN on both paths.

Shapes: one step's ``s, v (N, H)``; all steps' ``p (T, N, J, H)``, ``s, v (T, N, H)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

# The ops whose value reads v (every one but these two): without them r and v are unused.
WITHOUT_V = ("keep", "forget")


def write_op(name: str, out: Tensor, s: Tensor, v: Tensor | None) -> None:
    """``out ← op(s, v)`` for one step; ``forget`` writes nothing (its buffer stays 0)."""
    if name in WITHOUT_V:
        if name == "keep":
            out.copy_(s)
        return
    if v is None:
        raise ValueError(f"mufuru_sequence: op {name!r} reads v, which was not computed")
    if name == "replace":
        out.copy_(v)
    elif name == "mul":
        torch.mul(s, v, out=out)
    elif name == "diff":
        torch.sub(s, v, out=out)
    elif name == "sqrt_diff":
        torch.sub(s, v, out=out).abs_().sqrt_().mul_(0.25)
    elif name == "max":
        torch.maximum(s, v, out=out)
    elif name == "min":
        torch.minimum(s, v, out=out)
    else:
        raise ValueError(f"mufuru_sequence: expected an op of MUFURU_OPS, got {name!r}")


def op_slopes(
    names: tuple[str, ...], p: Tensor, s: Tensor, v: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """``(P_s, P_v)``, each ``(T, N, H)``; ``P_v`` is ``None`` when no op reads ``v``."""
    ps = torch.zeros_like(s)
    pv = None if v is None else torch.zeros_like(s)
    for j, name in enumerate(names):
        pj = p[:, :, j]
        if name in ("keep", "diff"):
            ps += pj
        if name in WITHOUT_V:
            continue
        if v is None or pv is None:
            raise ValueError(f"mufuru_sequence: op {name!r} reads v, which was not computed")
        if name in ("replace", "diff"):
            pv.add_(pj, alpha=1 if name == "replace" else -1)
        elif name == "mul":
            ps.addcmul_(pj, v)
            pv.addcmul_(pj, s)
        elif name == "sqrt_diff":
            d = s - v
            k = pj * d.sign() * d.abs().rsqrt() * 0.125  # NaN at d = 0, as autograd
            ps += k
            pv -= k
        elif name in ("max", "min"):
            half = torch.eq(s, v).to(s.dtype) * 0.5
            s_wins = torch.gt(s, v) if name == "max" else torch.lt(s, v)
            ps.addcmul_(pj, s_wins.to(s.dtype) + half)
            pv.addcmul_(pj, (~s_wins).to(s.dtype) - half)  # 1 − ∂/∂s: both sum to 1
    return ps, pv
