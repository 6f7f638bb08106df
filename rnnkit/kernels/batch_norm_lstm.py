"""Whole-sequence kernel of FastLSTM with recurrent batch normalisation, forward and backward.

``FastLSTM(batchnorm=True)`` (Cooijmans et al. 2016) computes, at every step,
``a = p_t + BN_hh(h W_hhᵀ) + b`` (``p_t = BN_ih(W_ih x_t)``, hoisted over all steps by the
caller), the LSTM gates from ``a``, ``c' = f c + i g`` and ``h' = o tanh(BN_c(c'))``. In
training both batch norms use each step's own batch statistics (over its ``N`` rows), so
``BN_hh`` and ``BN_c`` depend on the recurrence and stay in the step loop. The step path calls
two ``BatchNorm1d`` modules and about forty autograd nodes per step; this one
``torch.autograd.Function`` does per step one product, two fused batch normalisations
(``native_batch_norm``, which also returns the statistics) and the gate math in place, and in
backward two fused batch-norm backwards and one product for ``dh``. The ``W_hh`` gradient
and the batch-norm gains' and biases' gradients are then one reduction each over all steps.

The running statistics get the same ``T`` updates, in the same order, as stepping gives (the
statistics are returned by the forward; :func:`batchnorm_lstm_sequence` applies them).

``tanh`` is ``2σ(2x) − 1`` in the loop (:mod:`rnnkit.kernels.activation`): the g block of the
pre-activation and the ``BN_c`` gain and bias are doubled. Masks as in
:mod:`rnnkit.kernels.lstm`: a padded step's output and state rows are zero; the batch
statistics are over all ``N`` rows, padded ones included, as the step path computes them.

Shapes: ``projected (T, N, 4H)``, ``h0, c0 (N, H)``, ``weight_hh (4H, H)``, ``BN_hh`` gain and
bias ``(4H,)``, ``BN_c``'s ``(H,)``, ``valid (T, N)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .activation import minus_one, tanh_from_sigmoid_
from .batch_norm import track_batch_statistics
from .step_product import StepProduct

_bn_forward = torch.ops.aten.native_batch_norm.out
_bn_backward = torch.ops.aten.native_batch_norm_backward.default


class _BatchNormLSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, projected, h0, c0, weight_hh, gain_hh, bias, gain_c, bias_c,
                eps_hh, eps_c, valid):  # fmt: skip
        T, N, G = projected.shape
        H = G // 4
        # The activated gates after the loop (contiguous, whatever the layout of projected).
        gates = torch.add(projected, bias, out=projected.new_empty(T, N, G))
        gates[..., 2 * H : 3 * H].mul_(2)
        gain_hh2 = gain_hh.detach().clone()
        gain_hh2[2 * H : 3 * H].mul_(2)
        gain_c2, bias_c2 = gain_c.detach() * 2, bias_c.detach() * 2
        w_hh = StepProduct(weight_hh, N, T)
        m1 = minus_one(projected)
        new = projected.new_empty
        hs, cs = new(T + 1, N, H), new(T + 1, N, H)
        rs = new(T, N, G)  # h W_hhᵀ, BN_hh's input
        c_in = cs[1:] if valid is None else new(T, N, H)  # BN_c's input (before the mask)
        tanh_z = new(T, N, H)
        mean_hh, invstd_hh, mean_c, invstd_c = new(T, G), new(T, G), new(T, H), new(T, H)
        normed_r = new(N, G)
        hs[0], cs[0] = h0, c0
        a_t, hs_t, cs_t, rs_t, c_in_t = (b.unbind(0) for b in (gates, hs, cs, rs, c_in))
        i_t, f_t, g_t, o_t = (b.unbind(0) for b in gates.split(H, 2))
        tanh_z_t = tanh_z.unbind(0)
        valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
        for t in range(T):
            w_hh.into(rs_t[t], hs_t[t])
            _bn_forward(rs_t[t], None, None, None, None, True, 0.0, eps_hh,
                        out=normed_r, save_mean=mean_hh[t], save_invstd=invstd_hh[t])  # fmt: skip
            a_t[t].addcmul_(normed_r, gain_hh2).sigmoid_()
            tanh_from_sigmoid_(g_t[t], m1)
            c = torch.mul(f_t[t], cs_t[t], out=c_in_t[t]).addcmul_(i_t[t], g_t[t])
            # BN_c with its (doubled) gain and bias applied by the fused op itself
            z = _bn_forward(c, gain_c2, bias_c2, None, None, True, 0.0, eps_c,
                            out=tanh_z_t[t], save_mean=mean_c[t], save_invstd=invstd_c[t])[0]  # fmt: skip
            tanh_from_sigmoid_(z.sigmoid_(), m1)
            torch.mul(o_t[t], z, out=hs_t[t + 1])
            if valid_t is not None:
                hs_t[t + 1].mul_(valid_t[t])
                torch.mul(c, valid_t[t], out=cs_t[t + 1])
        ctx.eps = eps_hh, eps_c
        ctx.save_for_backward(weight_hh, gain_hh, gain_c, hs, cs, rs, c_in, tanh_z, gates,
                              mean_hh, invstd_hh, mean_c, invstd_c, valid)  # fmt: skip
        stats = (mean_hh, invstd_hh, mean_c, invstd_c)
        ctx.mark_non_differentiable(*stats)
        return hs[1:], hs[T].clone(), cs[T].clone(), *stats

    @staticmethod
    def backward(ctx, grad_out, grad_h, grad_c, *_stats):
        (weight_hh, gain_hh, gain_c, hs, cs, rs, c_in, tanh_z, gates,
         mean_hh, invstd_hh, mean_c, invstd_c, valid) = ctx.saved_tensors  # fmt: skip
        eps_hh, eps_c = ctx.eps
        T, N, H = tanh_z.shape
        if grad_out is None:
            grad_out = hs.new_zeros(T, N, H)
        i, f, g, o = gates.split(H, 2)
        # da: the gradient of the pre-activations [i, f, g, o], one contiguous (N, 4H) block
        # per step (the batch-norm backward is many times slower on a strided one). It first
        # holds the factors that do not depend on the incoming gradient, for all steps at once
        # (dc or dh times them is that gradient), so each step multiplies it in place.
        da = hs.new_empty(T, N, 4 * H)
        fac_i, fac_f, fac_g, fac_o = da.split(H, 2)
        torch.addcmul(i, i, i, value=-1, out=fac_i).mul_(g)  # ∂c/∂a_i = i (1 - i) g
        torch.addcmul(f, f, f, value=-1, out=fac_f).mul_(cs[:-1])  # f (1 - f) c_prev
        torch.addcmul(i, i, torch.mul(g, g, out=fac_g), value=-1, out=fac_g)  # i (1 - g²)
        torch.addcmul(o, o, o, value=-1, out=fac_o).mul_(tanh_z)  # ∂h/∂a_o = tanh z · o (1 - o)
        dz_from_h = torch.mul(tanh_z, tanh_z)
        torch.addcmul(o, o, dz_from_h, value=-1, out=dz_from_h)  # ∂h/∂z = o (1 - tanh² z)
        # Per step, from the batch-norm backwards (newest first): the gradient of h W_hhᵀ and
        # of the gains and BN_c's bias (BN_hh's is the pre-activations' bias gradient).
        drs: list[Tensor] = []
        gains_hh: list[Tensor] = []
        gains_c: list[Tensor] = []
        biases_c: list[Tensor] = []
        steps = (da, dz_from_h, f, c_in, rs, mean_hh, invstd_hh, mean_c, invstd_c)
        (da_t, dz_from_h_t, f_t, c_in_t, rs_t, mean_hh_t, invstd_hh_t, mean_c_t,
         invstd_c_t) = (b.unbind(0) for b in steps)  # fmt: skip
        da_ifg_t = da[..., : 3 * H].view(T, N, 3, H).unbind(0)
        da_o_t = fac_o.unbind(0)
        grad_t = grad_out.unbind(0)
        valid_t = None if valid is None else valid.unsqueeze(2).unbind(0)
        w_hh_back = StepProduct(weight_hh.t(), N, T)  # dh = dr W_hh
        dh = grad_t[T - 1] if grad_h is None else grad_t[T - 1] + grad_h
        dc_next = torch.zeros_like(dh) if grad_c is None else grad_c
        # The functional op: its out= form computes into new tensors and copies them over.
        gain_and_bias, gain_only = [True, True, True], [True, True, False]
        for t in range(T - 1, -1, -1):
            if valid_t is not None:
                dh = dh * valid_t[t]
                dc_next = dc_next * valid_t[t]
            da_o_t[t].mul_(dh)
            dz = dz_from_h_t[t].mul_(dh)  # the factor is used once: the gradient in its place
            dc, grad_gain_c, grad_bias_c = _bn_backward(dz, c_in_t[t], gain_c, None, None,
                                                        mean_c_t[t], invstd_c_t[t], True, eps_c,
                                                        gain_and_bias)  # fmt: skip
            dc.add_(dc_next)
            da_ifg_t[t].mul_(dc.unsqueeze(1))
            dc_next = dc.mul_(f_t[t])
            dr, grad_gain_hh, _ = _bn_backward(da_t[t], rs_t[t], gain_hh, None, None,
                                               mean_hh_t[t], invstd_hh_t[t], True, eps_hh,
                                               gain_only)  # fmt: skip
            drs.append(dr)
            gains_hh.append(grad_gain_hh)
            gains_c.append(grad_gain_c)
            biases_c.append(grad_bias_c)
            if t > 0:
                dh = w_hh_back.add(grad_t[t - 1], dr)
            elif ctx.needs_input_grad[1]:
                dh = w_hh_back(dr)
        grad_gain_hh, grad_gain_c, grad_bias_c = (torch.stack(g).sum(0)
                                                  for g in (gains_hh, gains_c, biases_c))  # fmt: skip
        grad_bias = da.sum((0, 1)) if ctx.needs_input_grad[5] else None
        need = ctx.needs_input_grad
        # (T, N, 4H): the gradient of the pre-activations, which is that of projected
        grad_projected = da if need[0] else None
        grad_h0 = dh if need[1] else None
        grad_c0 = dc_next.clone() if need[2] else None
        grad_w_hh = None
        if need[3]:
            grad_w_hh = torch.cat(drs[::-1]).t().mm(hs[:-1].reshape(T * N, H))
        return (grad_projected, grad_h0, grad_c0, grad_w_hh,
                grad_gain_hh if need[4] else None, grad_bias,
                grad_gain_c if need[6] else None, grad_bias_c if need[7] else None,
                None, None, None)  # fmt: skip


def uses_batch_statistics(bn: nn.BatchNorm1d) -> bool:
    """Whether ``bn`` normalises by the batch's statistics (training, or no running ones)."""
    return bn.training or not bn.track_running_stats


def _affine(bn: nn.BatchNorm1d, like: Tensor) -> tuple[Tensor, Tensor]:
    """``bn``'s gain and bias, or a constant 1 and 0 for ``affine=False``."""
    C = bn.num_features
    gain = bn.weight if bn.weight is not None else like.new_ones(C)
    bias = bn.bias if bn.bias is not None else like.new_zeros(C)
    return gain, bias


# A graph break under torch.compile, as the other kernels: tracing would unroll every step.
@torch.compiler.disable
def batchnorm_lstm_sequence(
    projected: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    bias: Tensor,
    bn_hh: nn.BatchNorm1d,
    bn_c: nn.BatchNorm1d,
    valid: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """All ``T`` steps of a batch-normalised FastLSTM: ``(output (T, N, H), h_T, c_T)``.

    ``projected (T, N, 4H)`` is ``BN_ih(W_ih x)`` for every step, ``bias (4H,)`` the bias
    added after the batch norms. ``bn_hh`` and ``bn_c`` must use batch statistics
    (:func:`uses_batch_statistics`) and ``N ≥ 2``; their running statistics are updated as
    ``T`` calls would. Differentiable in every tensor argument and in the batch norms' gains
    and biases.
    """
    T, N, _ = projected.shape
    gain_hh, bias_hh = _affine(bn_hh, projected)
    gain_c, bias_c = _affine(bn_c, projected)
    if valid is not None:
        valid = valid.to(projected.dtype)
    # bn_hh's bias and the bias after it are one bias of the pre-activations (one gradient).
    out, h, c, mean_hh, invstd_hh, mean_c, invstd_c = _BatchNormLSTMSequence.apply(
        projected, h0, c0, weight_hh, gain_hh, bias + bias_hh, gain_c, bias_c,
        bn_hh.eps, bn_c.eps, valid,
    )  # fmt: skip
    track_batch_statistics(bn_hh, mean_hh, invstd_hh, N)
    track_batch_statistics(bn_c, mean_c, invstd_c, N)
    return out, h, c
