"""Whole-sequence LSTM kernels: FastLSTM's equations and the peephole LSTM, forward and backward.

One ``torch.autograd.Function`` runs all ``T`` steps. Forward: the input projection of every
step is one matrix product, then each step adds one product ``h W_hhᵀ`` (against a weight
prepared once per call: :mod:`rnnkit.kernels.step_product`) into it and applies the gate non-linearities in place, keeping the
activations. Backward: each step does only its element-wise part (the factors that do not
depend on the incoming gradient are computed for all steps at once first) and one product
for ``dh``; the weight, bias and input gradients are then one matrix product each over all
``T·N`` rows. Without gradients the steps run in chunks, so memory is the output's plus a
chunk's projection.

Gate blocks are ordered ``[i, f, g, o]`` as in ``torch.nn.LSTM``. In the step loops ``tanh``
is ``2σ(2x) − 1`` (see :mod:`rnnkit.kernels.activation`): the g block of both products is
doubled, and the cell is carried doubled, then halved once after the loop.

Masks (``valid (T, N)`` float, 1 for real steps): at a padded step the row's output and
state are zero, so its next real step starts from zero state, as a step module with
``mask_zero`` does.

Shapes: ``x (T, N, D)``, ``h0, c0 (N, H)``, ``weight_ih (4H, D)``, ``weight_hh (4H, H)``,
``bias (4H)``; peepholes ``(H,)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .activation import minus_one, tanh_from_sigmoid_
from .aten_rnn import aten_lstm_pays, aten_lstm_sequence
from .autocast import casts_for_autocast
from .step_product import StepProduct, project

# Steps whose input projection is computed at once when no gradient is needed.
INFERENCE_CHUNK = 64


def _project(x2d: Tensor, weight_ih: Tensor, bias: Tensor, H: int) -> Tensor:
    """``x W_ihᵀ + bias`` for rows ``x2d (M, D)`` → ``(M, 4H)``, with the g block doubled."""
    gates = project(x2d, weight_ih, bias)
    gates[:, 2 * H : 3 * H].mul_(2)
    return gates


def _recurrent_weights(
    weight_hh: Tensor, N: int, T: int, peepholes: tuple[Tensor | None, ...]
) -> tuple[StepProduct, tuple[Tensor | None, ...]]:
    """The per-step product by ``W_hh`` with the g block doubled, and the peepholes halved
    (they read the doubled cell)."""
    H = weight_hh.size(1)
    doubled = weight_hh.detach().clone()
    doubled[2 * H : 3 * H].mul_(2)
    return StepProduct(doubled, N, T), tuple(None if w is None else w * 0.5 for w in peepholes)


def backward_factors(
    gates: Tensor, tanh_c: Tensor, c_prev: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """The factors of an LSTM step's backward that do not depend on the incoming gradient.

    From the activated ``gates (*, 4H)`` ``[i, f, g, o]``, ``tanh c (*, H)`` and the previous
    cell ``(*, H)``, for all rows at once, each written in two passes (x - x·y forms) straight
    into its buffer: ``∂h/∂c (*, H)``, ``∂h/∂a_o (*, H)`` and ``(*, 4, H)`` which ``dc``
    times gives ``[dc_prev, da_i, da_f, da_g]``.
    """
    i, f, g, o = gates.split(tanh_c.size(-1), -1)
    dc_from_h = torch.mul(tanh_c, tanh_c)
    torch.addcmul(o, o, dc_from_h, value=-1, out=dc_from_h)  # ∂h/∂c = o (1 - tanh² c)
    do = torch.addcmul(o, o, o, value=-1).mul_(tanh_c)  # ∂h/∂a_o = tanh c · o (1 - o)
    factors = gates.new_empty(*tanh_c.shape[:-1], 4, tanh_c.size(-1))
    fac = factors.unbind(-2)
    fac[0].copy_(f)
    torch.addcmul(i, i, i, value=-1, out=fac[1]).mul_(g)  # i (1 - i) g
    torch.addcmul(f, f, f, value=-1, out=fac[2]).mul_(c_prev)  # f (1 - f) c_prev
    torch.addcmul(i, i, torch.mul(g, g, out=fac[3]), value=-1, out=fac[3])  # i (1 - g²)
    return dc_from_h, do, factors


class _LSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias, w_ci, w_cf, w_co, valid):
        T, N, D = x.shape
        H = h0.size(1)
        gates = _project(x.reshape(T * N, D), weight_ih, bias, H).view(T, N, 4 * H)
        w_hh, (w_ci2, w_cf2, w_co2) = _recurrent_weights(weight_hh, N, T, (w_ci, w_cf, w_co))
        m1 = minus_one(x)
        hs = x.new_empty(T + 1, N, H)
        cs = x.new_empty(T + 1, N, H)  # 2c during the loop
        tanh_c = x.new_empty(T, N, H)
        hs[0] = h0
        torch.mul(c0, 2, out=cs[0])
        # Every per-step view made up front: slicing inside the loop costs more than the math
        # at small sizes.
        a_all, hs_t, cs_t, tanh_t = gates.unbind(0), hs.unbind(0), cs.unbind(0), tanh_c.unbind(0)
        i_t, f_t, g_t, o_t = (b.unbind(0) for b in gates.split(H, 2))
        ifg_t = gates[..., : 3 * H].unbind(0)
        valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
        for t in range(T):
            w_hh.add_to(a_all[t], hs_t[t])
            if w_ci is None:
                a_all[t].sigmoid_()
            else:  # i and f see the old cell, o the new one (below)
                i_t[t].addcmul_(cs_t[t], w_ci2)
                f_t[t].addcmul_(cs_t[t], w_cf2)
                ifg_t[t].sigmoid_()
            tanh_from_sigmoid_(g_t[t], m1)
            c2 = torch.mul(f_t[t], cs_t[t], out=cs_t[t + 1]).addcmul_(i_t[t], g_t[t], value=2)
            if w_ci is not None:
                o_t[t].addcmul_(c2, w_co2).sigmoid_()
            th = tanh_from_sigmoid_(torch.sigmoid(c2, out=tanh_t[t]), m1)
            torch.mul(o_t[t], th, out=hs_t[t + 1])
            if valid_t is not None:
                hs_t[t + 1].mul_(valid_t[t])
                c2.mul_(valid_t[t])
        cs.mul_(0.5)
        ctx.save_for_backward(
            x, weight_ih, weight_hh, hs, cs, tanh_c, gates, w_ci, w_cf, w_co, valid
        )
        return hs[1:], hs[T].clone(), cs[T].clone()

    @staticmethod
    def backward(ctx, grad_out, grad_h, grad_c):
        x, weight_ih, weight_hh, hs, cs, tanh_c, gates, w_ci, w_cf, w_co, valid = ctx.saved_tensors
        T, N, D = x.shape
        H = hs.size(2)
        peephole = w_ci is not None
        if grad_out is None:
            grad_out = hs.new_zeros(T, N, H)
        dc_from_h, do, factors = backward_factors(gates, tanh_c, cs[:-1])
        buf = hs.new_empty(T, N, 5 * H)  # per step [dc_prev, da_i, da_f, da_g, da_o]
        buf_c, buf_o = buf[..., :H].unbind(0), buf[..., 4 * H :].unbind(0)
        buf_dc = buf[..., : 4 * H].view(T, N, 4, H).unbind(0)
        buf_gates = buf[..., H:].unbind(0)
        do_t, dc_from_h_t, factors_t = do.unbind(0), dc_from_h.unbind(0), factors.unbind(0)
        grad_t = grad_out.unbind(0)
        valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
        dh = grad_t[T - 1] if grad_h is None else grad_t[T - 1] + grad_h
        w_hh_back = StepProduct(weight_hh.t(), N, T)  # dh = da W_hh
        dc_next = torch.zeros_like(dh) if grad_c is None else grad_c
        for t in range(T - 1, -1, -1):
            if valid_t is not None:
                dh = dh * valid_t[t]
                dc_next = dc_next * valid_t[t]
            da_o = torch.mul(dh, do_t[t], out=buf_o[t])
            dc = torch.addcmul(dc_next, dh, dc_from_h_t[t])
            if peephole:
                dc.addcmul_(da_o, w_co)
            torch.mul(factors_t[t], dc.unsqueeze(1), out=buf_dc[t])
            dc_next = buf_c[t]
            if peephole:
                step = buf[t]
                dc_next.addcmul_(step[:, H : 2 * H], w_ci).addcmul_(step[:, 2 * H : 3 * H], w_cf)
            if t > 0:
                dh = w_hh_back.add(grad_t[t - 1], buf_gates[t])
            elif ctx.needs_input_grad[1]:
                dh = w_hh_back(buf_gates[t])
        da = buf.view(T * N, 5 * H)[:, H:]  # (T·N, 4H), gates [i, f, g, o]
        need = ctx.needs_input_grad
        grad_x = da.mm(weight_ih).view(T, N, D) if need[0] else None
        grad_h0 = dh if need[1] else None
        grad_c0 = dc_next.clone() if need[2] else None
        grad_w_ih = da.t().mm(x.reshape(T * N, D)) if need[3] else None
        grad_w_hh = da.t().mm(hs[:-1].reshape(T * N, H)) if need[4] else None
        grad_b = da.sum(0) if need[5] else None
        grad_peep = [None, None, None]
        if peephole:
            da_i, da_f, da_o = buf[..., H : 2 * H], buf[..., 2 * H : 3 * H], buf[..., 4 * H :]
            grad_peep = [
                (da_i * cs[:-1]).sum((0, 1)) if need[6] else None,
                (da_f * cs[:-1]).sum((0, 1)) if need[7] else None,
                (da_o * cs[1:]).sum((0, 1)) if need[8] else None,
            ]
        return (grad_x, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_b, *grad_peep, None)


def _lstm_inference(x, h0, c0, weight_ih, weight_hh, bias, w_ci, w_cf, w_co, valid):
    """The forward alone, in chunks of steps, keeping only the output and the last state."""
    T, N, _ = x.shape
    H = h0.size(1)
    peepholes = w_ci is not None
    w_hh, (w_ci2, w_cf2, w_co2) = _recurrent_weights(weight_hh, N, T, (w_ci, w_cf, w_co))
    m1 = minus_one(x)
    out = x.new_empty(T, N, H)
    h, c2 = h0, c0 * 2  # the cell doubled, as in the training kernel
    th = x.new_empty(N, H)
    for start in range(0, T, INFERENCE_CHUNK):
        chunk = x[start : start + INFERENCE_CHUNK]
        gates = _project(chunk.reshape(-1, chunk.size(2)), weight_ih, bias, H)
        for k, projected in enumerate(gates.view(chunk.size(0), N, 4 * H).unbind(0)):
            a = w_hh.add(projected, h)
            i, f, g, o = a.split(H, 1)
            if peepholes:
                i.addcmul_(c2, w_ci2)
                f.addcmul_(c2, w_cf2)
                a[:, : 3 * H].sigmoid_()
            else:
                a.sigmoid_()
            tanh_from_sigmoid_(g, m1)
            c2.mul_(f).addcmul_(i, g, value=2)
            if peepholes:
                o.addcmul_(c2, w_co2).sigmoid_()
            h = torch.mul(o, tanh_from_sigmoid_(torch.sigmoid(c2, out=th), m1), out=out[start + k])
            if valid is not None:
                m = valid[start + k].unsqueeze(1)
                h.mul_(m)
                c2.mul_(m)
    return out, h.clone(), c2.mul_(0.5)


# Under torch.compile the kernel is a graph break: tracing its loop would unroll every step
# and recompile for every sequence length; eager, it is what the compiler would produce.
@torch.compiler.disable
@casts_for_autocast
def lstm_sequence(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias: Tensor,
    peepholes: tuple[Tensor, Tensor, Tensor] | None = None,
    valid: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """All ``T`` steps of the LSTM: ``(output (T, N, H), h_T, c_T)``.

    Without ``peepholes``, FastLSTM's equations (``bias`` is ``b_ih + b_hh``); with
    ``(w_ci, w_cf, w_co)``, the peephole LSTM's (``rnnkit.LSTM``). ``valid (T, N)``: see the
    module docstring. Differentiable in every tensor argument but ``valid``. Without
    peepholes and padding, ATen's fused LSTM runs it where that is the faster kernel
    (:mod:`rnnkit.kernels.aten_rnn`). Under ``torch.autocast`` it runs in autocast's dtype
    (:mod:`rnnkit.kernels.autocast`).
    """
    w_ci, w_cf, w_co = (None, None, None) if peepholes is None else peepholes
    args = (x, h0, c0, weight_ih, weight_hh, bias, w_ci, w_cf, w_co, valid)
    training = torch.is_grad_enabled() and any(
        a is not None and a.requires_grad for a in args[:-1]
    )
    if peepholes is None and (valid is None or bool(valid.all())):
        if aten_lstm_pays(x, h0.size(1), training):
            return aten_lstm_sequence(x, h0, c0, weight_ih, weight_hh, bias, INFERENCE_CHUNK)
        valid = None
    if valid is not None and training and peepholes is None:  # some padding (above)
        from .packed_lstm import packed_lstm_sequence, packing  # it builds on this module

        pk = packing(valid.bool())
        if pk is not None:  # padded on one side: only the real steps are computed
            return packed_lstm_sequence(x, h0, c0, weight_ih, weight_hh, bias, pk)
    args = (*args[:-1], None if valid is None else valid.to(x.dtype))
    if training:
        return _LSTMSequence.apply(*args)
    return _lstm_inference(*args)
