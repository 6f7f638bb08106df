"""Whole-sequence GRU kernel: both candidates (Cho et al.; reset after, as cuDNN), with or
without variational dropout masks, forward and backward.

The layout of ``rnnkit.kernels.lstm``: one product for every step's input projection, one
or two recurrent products per step into preallocated buffers, the element-wise backward per
step with the gradient-independent factors computed for all steps at once, and the weight,
bias and input gradients as one product each over all ``T·N`` rows. Without dropout masks
the per-step products run against weights prepared once per call
(:mod:`rnnkit.kernels.step_product`); with them, gate by gate on ``mm``.

Dropout masks (Gal & Ghahramani) are one per gate path, ``x_mask (3, R, D)`` and
``h_mask (3, R, H)`` with ``R = N`` or 1, the same at every step; ``valid (T, N)`` float marks
real steps (padded steps give zero output and reset the row's state).

In the step loops ``tanh`` is ``2σ(2x) − 1`` (see :mod:`rnnkit.kernels.activation`): the n
block of the input projection, ``W_hn`` and ``b_hn`` are doubled.

Shapes: ``x (T, N, D)``, ``h0 (N, H)``, ``weight_ih (3H, D)``, ``weight_hh (3H, H)``, biases
``(3H)``, gates ``[r, z, n]`` as in ``torch.nn.GRU``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .activation import minus_one, tanh_from_sigmoid_
from .aten_rnn import aten_gru_pays, aten_gru_sequence
from .autocast import casts_for_autocast
from .step_product import StepProduct, project

INFERENCE_CHUNK = 64


def _project_inputs(x: Tensor, weight_ih: Tensor, bias: Tensor, x_mask: Tensor | None) -> Tensor:
    """``W_ih x + bias`` for every step ``(T·N, 3H)``, each gate with its own input mask."""
    T, N, D = x.shape
    flat = x.reshape(T * N, D)
    if x_mask is None:
        return project(flat, weight_ih, bias)
    H = weight_ih.size(0) // 3
    return torch.cat(
        [
            project((x * m).reshape(T * N, D), w, b)
            for w, b, m in zip(weight_ih.split(H), bias.split(H), x_mask)
        ],
        1,
    )


def _recurrent(h: Tensor, w_t: list[Tensor], h_mask: Tensor | None, gates: range) -> list[Tensor]:
    """``(h ⊙ m_g) W_gᵀ`` for the gate blocks ``gates``."""
    return [(h if h_mask is None else h * h_mask[g]).mm(w_t[g]) for g in gates]


class _GRUSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, x_mask, h_mask, valid, after):
        T, N, D = x.shape
        H = h0.size(1)
        # with h_mask, the masked products gate by gate: 3 x (H, H)
        w_t = [] if h_mask is None else [w.t().contiguous() for w in weight_hh.split(H)]
        b_hr, b_hz, b_hn = bias_hh.split(H)
        # Biases of the recurrent products that sum straight into the pre-activations.
        folded = torch.cat((b_hr, b_hz, b_hn if not after else torch.zeros_like(b_hn)))
        gates = _project_inputs(x, weight_ih, bias_ih + folded, x_mask).view(T, N, 3 * H)
        gates[..., 2 * H :].mul_(2)
        b_hn2, m1 = b_hn * 2, minus_one(x)
        # The per-step products against prepared weights (oneDNN where it pays): W_rz, 2 W_hn.
        rz_product = StepProduct(weight_hh[: 2 * H], N, T)
        n_product = StepProduct(weight_hh[2 * H :] * 2, N, T)
        hs = x.new_empty(T + 1, N, H)
        hs[0] = h0
        # Cho: r ⊙ (h ⊙ m_n), the input of W_hn; reset after: W_hn (h ⊙ m_n) + b_hn.
        inner = x.new_empty(T, N, H)
        # Every per-step view made up front: slicing inside the loop costs more than the math
        # at small sizes.
        hs_t, inner_t = hs.unbind(0), inner.unbind(0)
        rz_t = gates[..., : 2 * H].unbind(0)
        r_t, z_t, n_t = (b.unbind(0) for b in gates.split(H, 2))
        valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
        for t in range(T):
            h = hs_t[t]
            if h_mask is None:
                rz_product.add_to(rz_t[t], h)
            else:
                for g, p in enumerate(_recurrent(h, w_t, h_mask, range(2))):
                    (r_t, z_t)[g][t].add_(p)
            rz_t[t].sigmoid_()
            r, z, n = r_t[t], z_t[t], n_t[t]
            hn = h if h_mask is None else h * h_mask[2]
            if after:
                n_product.add(b_hn2, hn, out=inner_t[t])
                n.addcmul_(r, inner_t[t])
            else:
                n_product.add_to(n, torch.mul(r, hn, out=inner_t[t]))
            tanh_from_sigmoid_(n.sigmoid_(), m1)
            torch.lerp(n, h, z, out=hs_t[t + 1])  # n + z (h - n) = (1 - z) n + z h
            if valid_t is not None:
                hs_t[t + 1].mul_(valid_t[t])
        if after:
            inner.mul_(0.5)  # W_hn h + b_hn, as the backward reads it
        ctx.after = after
        ctx.save_for_backward(x, weight_ih, weight_hh, hs, gates, inner, x_mask, h_mask, valid)
        return hs[1:], hs[T].clone()

    @staticmethod
    def backward(ctx, grad_out, grad_h):
        x, weight_ih, weight_hh, hs, gates, inner, x_mask, h_mask, valid = ctx.saved_tensors
        after = ctx.after
        T, N, D = x.shape
        H = hs.size(2)
        if grad_out is None:
            grad_out = hs.new_zeros(T, N, H)
        w = weight_hh.split(H)  # the rows of W_hr, W_hz, W_hn
        r, z, n = gates.split(H, 2)
        h_prev = hs[:-1]
        hn = h_prev if h_mask is None else h_prev * h_mask[2]
        # dh times these gives [da_z, da_n, dh_prev directly]; da_n times those of ``by_n``.
        # Each is written straight into its buffer in x - x·y forms: fresh temporaries of the
        # whole sequence cost their page faults again at every call.
        by_h = hs.new_empty(T, N, 3, H)
        b_z, b_n, b_h = by_h.unbind(2)
        torch.sub(h_prev, n, out=b_h)
        torch.addcmul(z, z, z, value=-1, out=b_z).mul_(b_h)  # (h_prev - n) z (1 - z)
        torch.addcmul(torch.ones_like(n[:1, :1]), n, n, value=-1, out=b_n)  # 1 - n²
        b_n.addcmul_(z, b_n, value=-1)  # (1 - z)(1 - n²)
        b_h.copy_(z)
        by_n = hs.new_empty(T, N, 2, H)
        b_r, b_rr = by_n.unbind(2)
        b_r.copy_(r)
        # after: da_n times [r, inner r (1 - r)] gives [d inner, da_r]; Cho: d(r ⊙ hn) =
        # da_n W_hn, times [r, hn r (1 - r)] gives [d hn, da_r]
        torch.addcmul(r, r, r, value=-1, out=b_rr).mul_(inner if after else hn)
        # per step: [d_inner, da_r, da_z, da_n, dh_direct]
        buf = hs.new_empty(T, N, 5 * H)
        buf_h = buf[..., 2 * H :].view(T, N, 3, H).unbind(0)
        buf_n = buf[..., : 2 * H].view(T, N, 2, H).unbind(0)
        da_n_t, d_inner_t = buf[..., 3 * H : 4 * H].unbind(0), buf[..., :H].unbind(0)
        direct_t, rz_grad_t = buf[..., 4 * H :].unbind(0), buf[..., H : 3 * H].unbind(0)
        by_h_t, by_n_t, grad_t = by_h.unbind(0), by_n.unbind(0), grad_out.unbind(0)
        valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
        # dh = da_rz W_rz, d(hn) = d W_hn: the per-step products against prepared weights
        rz_back, n_back = StepProduct(weight_hh[: 2 * H].t(), N, T), StepProduct(w[2].t(), N, T)
        dh = grad_t[T - 1] if grad_h is None else grad_t[T - 1] + grad_h
        for t in range(T - 1, -1, -1):
            if valid_t is not None:
                dh = dh * valid_t[t]
            torch.mul(by_h_t[t], dh.unsqueeze(1), out=buf_h[t])
            d_n_in = da_n_t[t] if after else n_back(da_n_t[t])
            torch.mul(by_n_t[t], d_n_in.unsqueeze(1), out=buf_n[t])
            if t == 0 and not ctx.needs_input_grad[1]:
                break
            # d_inner is w.r.t. hn (Cho) or W_hn hn + b_hn (reset after)
            d_hn = n_back(d_inner_t[t]) if after else d_inner_t[t]
            prev = direct_t[t] + grad_t[t - 1] if t > 0 else direct_t[t]
            if h_mask is None:
                dh = rz_back.add(prev, rz_grad_t[t]).add_(d_hn)
            else:
                dh = prev.addcmul(d_hn, h_mask[2])
                step = buf[t]
                for g in range(2):
                    dh.addcmul_(step[:, (g + 1) * H : (g + 2) * H].mm(w[g]), h_mask[g])
        flat = buf.view(T * N, 5 * H)
        d_gates = flat[:, H : 4 * H]  # [da_r, da_z, da_n] (T·N, 3H)
        d_inner = flat[:, :H]
        need = ctx.needs_input_grad
        grad_x = grad_w_ih = None
        if x_mask is None:
            if need[0]:
                grad_x = d_gates.mm(weight_ih).view(T, N, D)
            if need[2]:
                grad_w_ih = d_gates.t().mm(x.reshape(T * N, D))
        else:
            parts = list(zip(d_gates.split(H, 1), weight_ih.split(H), x_mask))
            if need[0]:
                grad_x = sum((d.mm(wg).view(T, N, D) * m for d, wg, m in parts))
            if need[2]:
                grad_w_ih = torch.cat([d.t().mm((x * m).reshape(T * N, D)) for d, _, m in parts])
        grad_w_hh = None
        if need[3] and h_mask is None:  # W_rz: one product; W_hn: one more, on its own input
            grad_w_hh = hs.new_empty(3 * H, H)
            h_rows = h_prev.reshape(T * N, H)
            torch.mm(d_gates[:, : 2 * H].t(), h_rows, out=grad_w_hh[: 2 * H])
            if after:
                d_n, n_in = d_inner, h_rows
            else:
                d_n, n_in = d_gates[:, 2 * H :], inner.reshape(T * N, H)
            torch.mm(d_n.t(), n_in, out=grad_w_hh[2 * H :])
        elif need[3]:
            rows = []
            for g in range(3):
                d = (
                    d_gates[:, g * H : (g + 1) * H]
                    if g < 2
                    else d_inner
                    if after
                    else d_gates[:, 2 * H :]
                )
                inp = h_prev if h_mask is None else h_prev * h_mask[g]
                if g == 2 and not after:
                    inp = inner  # r ⊙ hn
                rows.append(d.t().mm(inp.reshape(T * N, H)))
            grad_w_hh = torch.cat(rows)
        grad_h0 = dh if need[1] else None
        grad_b_ih = d_gates.sum(0) if need[4] else None
        grad_b_hh = None
        if need[5]:
            last = d_inner if after else d_gates[:, 2 * H :]
            grad_b_hh = torch.cat((d_gates[:, : 2 * H].sum(0), last.sum(0)))
        return grad_x, grad_h0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, None, None, None, None


def _gru_inference(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, x_mask, h_mask, valid, after):
    """The forward alone, in chunks of steps, keeping only the output and the last state."""
    T, N, _ = x.shape
    H = h0.size(1)
    w_t = [] if h_mask is None else [w.t().contiguous() for w in weight_hh.split(H)]
    b_hr, b_hz, b_hn = bias_hh.split(H)
    folded = bias_ih + torch.cat((b_hr, b_hz, b_hn if not after else torch.zeros_like(b_hn)))
    b_hn2, m1 = b_hn * 2, minus_one(x)
    rz_product = StepProduct(weight_hh[: 2 * H], N, T)
    n_product = StepProduct(weight_hh[2 * H :] * 2, N, T)
    out = x.new_empty(T, N, H)
    h = h0
    for start in range(0, T, INFERENCE_CHUNK):
        chunk = x[start : start + INFERENCE_CHUNK]
        gates = _project_inputs(chunk, weight_ih, folded, x_mask).view(chunk.size(0), N, 3 * H)
        gates[..., 2 * H :].mul_(2)
        for k, a in enumerate(gates.unbind(0)):
            if h_mask is None:
                rz_product.add_to(a[:, : 2 * H], h)
            else:
                for g, p in enumerate(_recurrent(h, w_t, h_mask, range(2))):
                    a[:, g * H : (g + 1) * H].add_(p)
            a[:, : 2 * H].sigmoid_()
            r, z, n = a.split(H, 1)
            hn = h if h_mask is None else h * h_mask[2]
            if after:
                n.addcmul_(r, n_product.add(b_hn2, hn))
            else:
                n_product.add_to(n, r * hn)
            tanh_from_sigmoid_(n.sigmoid_(), m1)
            h = torch.lerp(n, h, z, out=out[start + k])
            if valid is not None:
                h.mul_(valid[start + k].unsqueeze(1))
    return out, h.clone()


# Under torch.compile the kernel is a graph break: tracing its loop would unroll every step
# and recompile for every sequence length; eager, it is what the compiler would produce.
@torch.compiler.disable
@casts_for_autocast
def gru_sequence(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
    *,
    reset_after: bool = False,
    x_mask: Tensor | None = None,
    h_mask: Tensor | None = None,
    valid: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """All ``T`` steps of the GRU (``rnnkit.cells.gru.gru_step``'s equations): ``(output, h_T)``.

    Differentiable in ``x``, ``h0`` and the parameters (the masks and ``valid`` are constants).
    On a GPU, a reset-after call without dropout masks or padding runs on ATen's fused GRU
    (cuDNN's: :mod:`rnnkit.kernels.aten_rnn`). Under ``torch.autocast`` it runs in autocast's
    dtype (:mod:`rnnkit.kernels.autocast`).
    """
    if reset_after and aten_gru_pays(x) and x_mask is None and h_mask is None and (
        valid is None or bool(valid.all())
    ):
        return aten_gru_sequence(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, INFERENCE_CHUNK)
    if valid is not None:
        valid = valid.to(x.dtype)
    args = (x, h0, weight_ih, weight_hh, bias_ih, bias_hh, x_mask, h_mask, valid, reset_after)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args[:6]):
        return _GRUSequence.apply(*args)
    return _gru_inference(*args)
