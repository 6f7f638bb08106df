"""Whole-sequence MuFuRu kernel, forward and backward, in the layout of ``rnnkit.kernels.gru``.

One product for every step's input part, two recurrent products per step (``s`` times
``[W_sr; W_p's s columns]``, then ``r ⊙ s`` times ``W_v``'s) into preallocated buffers that
backward reads; the element-wise backward per step with its gradient-independent factors
computed for all steps at once; the weight, bias and input gradients as one product each
over all ``T·N`` rows.

The softmax over the ``J`` ops does not change when the same number is added to every logit
of a unit, so the kernel computes the logits less the first op's, ``(W_p,j − W_p,0) [x, s] +
(b_p,j − b_p,0)`` for ``j ≥ 1`` beside a logit 0 for ``j = 0``: ``J − 1`` blocks of products
instead of ``J``, forward and backward. ``W_p``'s gradient follows by the chain rule: the
blocks ``j ≥ 1`` are those of the differences, block 0 minus their sum.

Backward per step, with ``g = dL/ds'``: the logits' gradient is ``g ⊙ p_j (op_j − s')``
(softmax's backward), ``v``'s is ``g ⊙ P_v`` and the direct part of ``dL/ds`` is ``g ⊙ P_s``
(:func:`~rnnkit.kernels.mufuru_ops.op_slopes`). ``valid (T, N)`` float marks real steps
(padded steps give zero output and reset the row's state).

Shapes: ``x (T, N, D)``, ``s (N, H)``; weights as in :func:`rnnkit.cells.mufuru.mufuru_step`.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from .intercept import chunked
from .mufuru_ops import WITHOUT_V, op_slopes, write_op
from .step_product import StepProduct


def _maps(names, D, weights):
    """``(W_in, b_in, W_sᵀ, W_vsᵀ)`` of the kernel's layout (see :func:`_forward`), from the
    module's weights (``W_vsᵀ`` ``None`` when no op reads ``v``). The recurrent maps come
    transposed and contiguous: read row-wise by the forward's products, and as ``.t()`` by
    the backward's (the faster layout of both on the CPUs we measured)."""
    weight_xr, bias_xr, weight_sr, bias_sr, weight_v, bias_v, weight_p, bias_p = weights
    J = len(names)
    H = weight_p.size(0) // J
    wp = weight_p.view(J, H, -1)
    w_d = (wp[1:] - wp[:1]).reshape(-1, wp.size(2))  # ((J-1)H, D+H): logits less op 0's
    b_d = (bias_p.view(J, H)[1:] - bias_p[:H]).reshape(-1)
    if weight_xr is None:
        return w_d[:, :D], b_d, w_d[:, D:].t().contiguous(), None
    w_in = torch.cat((w_d[:, :D], weight_xr, weight_v[:, :D]))  # ((J+1)H, D)
    b_in = torch.cat((b_d, bias_xr + bias_sr, bias_v))  # b_sr joins b_xr: both before σ
    w_s_t = torch.cat((w_d[:, D:], weight_sr)).t().contiguous()  # (H, JH)
    return w_in, b_in, w_s_t, weight_v[:, D:].t().contiguous()


def _forward(x, s0, names, maps, valid):
    """All ``T`` steps: ``(hs (T+1, N, H), gates, p, ops, rs)``, what backward reads.

    ``gates (T, N, J+2, H)`` (``J`` without ``v``): ``[0, logits 1…J-1, r, v]``, after the
    sigmoids; ``p, ops (T, N, J, H)``: the op weights and values; ``rs (T, N, H)``: ``r ⊙ s``.
    """
    T, N, D = x.shape
    H, J = s0.size(1), len(names)
    w_in, b_in, w_s_t, w_vs_t = maps
    uses_v = w_vs_t is not None
    gates = x.new_empty(T, N, J + 2 if uses_v else J, H)
    gates[:, :, 0] = 0  # op 0's logit; the rest is written before it is read
    flat = gates.view(T * N, gates.size(2) * H)  # explicit widths: N may be 0
    if w_in.size(0):
        torch.addmm(b_in, x.reshape(T * N, D), w_in.t(), out=flat[:, H:])
    width = w_s_t.size(1)
    # The per-step products against weights prepared once (oneDNN where it pays).
    s_product = StepProduct(w_s_t.t(), N, T) if width else None
    vs_product = StepProduct(w_vs_t.t(), N, T) if w_vs_t is not None else None
    hs = x.new_empty(T + 1, N, H)
    hs[0] = s0
    p = x.new_ones(T, N, J, H) if J == 1 else x.new_empty(T, N, J, H)
    ops = x.new_empty(T, N, J, H)
    if "forget" in names:
        ops[:, :, names.index("forget")] = 0  # write_op leaves it
    rs = x.new_empty(T, N, H) if uses_v else None
    prod = x.new_empty(N, J, H)
    # Every per-step view made up front: slicing in the loop costs more than the math at
    # small sizes.
    hs_t, p_t, ops_t = hs.unbind(0), p.unbind(0), ops.unbind(0)
    flat_t = gates.view(T, N, gates.size(2) * H).unbind(0)
    rs_t = rs.unbind(0) if rs is not None else ()
    valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
    for t in range(T):
        s, g = hs_t[t], flat_t[t]
        if s_product is not None:
            s_product.add_to(g[:, H : H + width], s)
        v = None
        if vs_product is not None:
            r = g[:, J * H : (J + 1) * H].sigmoid_()
            torch.mul(r, s, out=rs_t[t])
            v = vs_product.add_to(g[:, (J + 1) * H :], rs_t[t]).sigmoid_()
        if J > 1:
            torch.softmax(g[:, : J * H].view(N, J, H), 1, out=p_t[t])
        for j, name in enumerate(names):
            write_op(name, ops_t[t][:, j], s, v)
        torch.sum(torch.mul(p_t[t], ops_t[t], out=prod), 1, out=hs_t[t + 1])
        if valid_t is not None:
            hs_t[t + 1].mul_(valid_t[t])
    return hs, gates, p, ops, rs


class _MuFuRuSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, s0, names, valid, *weights):
        with torch.no_grad():
            maps = _maps(names, x.size(2), weights)
        hs, gates, p, ops, rs = _forward(x, s0, names, maps, valid)
        ctx.names = names
        ctx.save_for_backward(x, hs, gates, p, ops, rs, valid, *maps)
        return hs[1:], hs[-1].clone()

    @staticmethod
    def backward(ctx, grad_out, grad_s):
        x, hs, gates, p, ops, rs, valid, w_in, _, w_s_t, w_vs_t = ctx.saved_tensors
        names, need = ctx.names, ctx.needs_input_grad
        T, N, D = x.shape
        H, J = hs.size(2), len(names)
        uses_v = w_vs_t is not None
        rows_s = w_s_t.size(1)
        if grad_out is None:
            grad_out = hs.new_zeros(T, N, H)
        s_prev = hs[:-1]
        # Gradient-independent factors of every step, at once.
        r = gates[:, :, J] if uses_v else None
        v = gates[:, :, J + 1] if uses_v else None
        ps, pv = op_slopes(names, p, s_prev, v)
        q = (ops[:, :, 1:] - hs[1:].unsqueeze(2)).mul_(p[:, :, 1:])  # p_j (op_j − s'), j ≥ 1
        # Per step: [d logits 1…J-1, da_r, da_v], the columns of the input part.
        buf = hs.new_empty(T, N, w_in.size(0))
        d_logit_t = buf[..., : (J - 1) * H].view(T, N, J - 1, H).unbind(0)
        d_s_in_t = buf[..., :rows_s].unbind(0)  # the columns that multiply W_s
        q_t, ps_t, grad_t = q.unbind(0), ps.unbind(0), grad_out.unbind(0)
        # T per-step views each with v, none without
        d_r_t: tuple[Tensor, ...] = ()
        d_v_t = pv_t = sr_t = r_t = d_r_t
        if r is not None and v is not None and pv is not None:
            pv.mul_(v * (1 - v))  # dL/da_v = g ⊙ this
            sr = s_prev * r * (1 - r)  # dL/da_r = d(r ⊙ s) ⊙ this
            d_r_t, d_v_t = buf[..., -2 * H : -H].unbind(0), buf[..., -H:].unbind(0)
            pv_t, sr_t, r_t = pv.unbind(0), sr.unbind(0), r.unbind(0)
        valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
        # ds = d_s_in W_s, d(r ⊙ s) = da_v W_vs: against weights prepared once
        s_back = StepProduct(w_s_t, N, T) if rows_s else None
        vs_back = StepProduct(w_vs_t, N, T) if w_vs_t is not None else None
        ds = grad_t[T - 1] if grad_s is None else grad_t[T - 1] + grad_s
        for t in range(T - 1, -1, -1):
            g = ds if valid_t is None else ds * valid_t[t]
            if J > 1:
                torch.mul(q_t[t], g.unsqueeze(1), out=d_logit_t[t])
            if vs_back is not None:
                torch.mul(g, pv_t[t], out=d_v_t[t])
                d_rs: Tensor = vs_back(d_v_t[t])
                torch.mul(d_rs, sr_t[t], out=d_r_t[t])
            if t == 0 and not need[1]:
                break
            ds = torch.addcmul(grad_t[t - 1], g, ps_t[t]) if t > 0 else g * ps_t[t]
            if s_back is not None:
                s_back.add_to(ds, d_s_in_t[t])
            if uses_v:
                ds.addcmul_(d_rs, r_t[t])
        flat = buf.view(T * N, buf.size(2))
        grad_x = flat.mm(w_in).view(T, N, D) if need[0] else None
        weights = _weight_grads(x, s_prev, flat, rs, rows_s, J)
        weights = [w if n else None for w, n in zip(weights, need[4:])]
        return grad_x, ds if need[1] else None, None, None, *weights


def _weight_grads(x, s_prev, flat, rs, rows_s, J):
    """The gradients of the module's eight weights (``None`` for the six of ``r`` and ``v``
    without them) from the per-step gradients ``flat (T·N, width)``, one product each."""
    T, N, D = x.shape
    H = s_prev.size(2)
    grad_in = flat.t().mm(x.reshape(T * N, D))  # (width, D)
    grad_b = flat.sum(0)
    grad_s = flat[:, :rows_s].t().mm(s_prev.reshape(T * N, H))  # (rows of W_s, H)
    k = (J - 1) * H
    # The logit differences' gradients (J-1, H, D+H); W_p's block 0 is minus their sum.
    d_w = torch.cat((grad_in[:k], grad_s[:k]), 1).view(J - 1, H, D + H)
    grad_wp = torch.cat((-d_w.sum(0, keepdim=True), d_w)).view(J * H, D + H)
    d_b = grad_b[:k].view(J - 1, H)
    grad_bp = torch.cat((-d_b.sum(0, keepdim=True), d_b)).view(J * H)
    if rs is None:
        return None, None, None, None, None, None, grad_wp, grad_bp
    grad_wv = torch.cat((grad_in[k + H :], flat[:, k + H :].t().mm(rs.reshape(T * N, H))), 1)
    grad_br = grad_b[k : k + H]  # b_xr and b_sr: both added before the same σ
    return (grad_in[k : k + H], grad_br, grad_s[k:], grad_br.clone(), grad_wv,
            grad_b[k + H :], grad_wp, grad_bp)  # fmt: skip


def _inference(x, s, names, weights, valid):
    maps = _maps(names, x.size(2), weights)
    hs = _forward(x, s, names, maps, valid)[0]
    return hs[1:], hs[-1].clone()


# Under torch.compile the kernel is a graph break: tracing its loop would unroll every step
# and recompile for every sequence length.
@torch.compiler.disable
def mufuru_sequence(
    x: Tensor,
    s: Tensor,
    ops: Iterable[str],
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

    ``ops``: the op names in the order of the op logits (an iterable of names of
    ``rnnkit.cells.mufuru``'s ``MUFURU_OPS``; a dict name -> op gives its keys).
    Differentiable in ``x``, ``s`` and the weights; with only ``keep``/``forget``, ``r`` and
    ``v`` are not computed and their weights get no gradient (``None``), as on the step path.
    """
    names = tuple(ops)
    weights: list[Tensor | None] = [weight_xr, bias_xr, weight_sr, bias_sr, weight_v, bias_v, weight_p, bias_p]
    if all(name in WITHOUT_V for name in names):
        weights[:6] = [None] * 6
    if valid is not None:
        valid = valid.to(x.dtype)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in [x, s, *weights]):
        out, s_last = _MuFuRuSequence.apply(x, s, names, valid, *weights)
        return out, s_last
    with torch.no_grad():
        return chunked(lambda x, s, valid: _inference(x, s, names, weights, valid), x, s, valid)
