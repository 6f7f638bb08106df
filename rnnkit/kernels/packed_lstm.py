"""The LSTM kernel over padded batches: only the real steps are computed (FastLSTM's equations).

A batch padded on one side — every row zeros then real steps (left padding), or real steps
then zeros (right padding) — spends a masked kernel's work on the padded steps too: about
half of it for lengths spread evenly. With the rows sorted by length (longest first), the
rows that are real at step ``t`` are the first ``k_t`` of that order, so the real steps are
stored packed, time-major, as ``torch.nn.utils.rnn.PackedSequence`` stores them: step ``t``'s
rows are ``[off_t, off_t + k_t)``. The input projection, the input, weight and bias
gradients are then one matrix product each over the ``M = Σ k_t`` real rows, and each step's
product and element-wise work covers its ``k_t`` rows only.

The results are the masked kernel's (:mod:`rnnkit.kernels.lstm` with ``valid``): a row's
first real step starts from ``(h0, c0)`` if it is step 0 and from zeros otherwise (a padded
step resets the state); a row whose real steps end before ``T`` ends with a zero state; the
outputs at padded steps are zeros. The first ``m_t = min(k_{t-1}, k_t)`` rows of step ``t``
continue rows of step ``t - 1``; the others start from zeros.

Gate blocks ``[i, f, g, o]``; ``tanh`` is ``2σ(2x) − 1`` with the g block doubled and the cell
carried doubled, as in :mod:`rnnkit.kernels.lstm`. Shapes: ``x (T, N, D)``, ``h0, c0
(N, H)``, ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias (4H,)``, ``valid (T, N)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .activation import minus_one, tanh_from_sigmoid_
from .lstm import _project, _recurrent_weights, backward_factors
from .step_product import StepProduct


@dataclass
class Packing:
    """Where the real steps of a one-side-padded batch go in the packed layout."""

    perm: Tensor  # (N,) rows by length, longest first
    flat: Tensor  # (M,) packed row -> index t·N + n of the (T·N) rows
    # (M,) packed row -> the row of its previous state: a packed row, M + j (row j of h0/c0 in
    # perm's order) or M + N (the zero row)
    prev: Tensor
    k: list[int]  # rows per step
    off: list[int]  # first packed row of each step
    m: list[int]  # rows continuing the previous step


def packing(valid: Tensor) -> Packing | None:
    """The packed layout of ``valid (T, N)`` bool, or ``None`` when a row has a zero step
    between real ones (then only the masked kernel applies)."""
    T, N = valid.shape
    later, earlier = valid[1:], valid[:-1]
    if not (bool((later >= earlier).all()) or bool((later <= earlier).all())):
        return None
    perm = valid.sum(0).argsort(descending=True, stable=True)
    ordered = valid.index_select(1, perm)
    where = ordered.nonzero()  # (M, 2): (t, j) row-major, j < k_t
    t, j = where[:, 0], where[:, 1]
    k_t = ordered.sum(1)
    k = k_t.tolist()
    off_t = torch.cumsum(k_t, 0) - k_t
    m_t = torch.minimum(torch.cat((k_t[:1], k_t[:-1])), k_t)  # m_0 = k_0: all continue h0
    M = int(k_t.sum())
    prev = torch.where(t == 0, M + j, off_t[(t - 1).clamp(min=0)] + j)
    prev = torch.where(j < m_t[t], prev, M + N)  # M + N: the zero row
    return Packing(perm, t * N + perm[j], prev, k, off_t.tolist(), m_t.tolist())


def _with_initial(rows: Tensor, initial: Tensor) -> Tensor:
    """``(M + N + 1, H)``: the packed rows, then the initial state rows, then a zero row."""
    return torch.cat((rows, initial, initial.new_zeros(1, initial.size(1))))


class _PackedLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias, pk):
        T, N, D = x.shape
        H = h0.size(1)
        h0s, c0s = h0.index_select(0, pk.perm), c0.index_select(0, pk.perm)
        xp = x.reshape(T * N, D).index_select(0, pk.flat)  # (M, D)
        M = xp.size(0)
        gates = _project(xp, weight_ih, bias, H)  # (M, 4H), g block doubled
        w_hh, _ = _recurrent_weights(weight_hh, N, T, ())
        m1 = minus_one(x)
        hs, cs, tanh_c = x.new_empty(M, H), x.new_empty(M, H), x.new_empty(M, H)  # cs: 2c
        h_prev, c_prev = h0s, c0s * 2
        for t in range(T):
            start, k, m = pk.off[t], pk.k[t], pk.m[t]
            rows = slice(start, start + k)
            if k == 0:
                h_prev, c_prev = hs[rows], cs[rows]
                continue
            a = gates[rows]
            if m:
                w_hh.add_to(a[:m], h_prev[:m])
            a.sigmoid_()
            i, f, g, o = a.split(H, 1)
            tanh_from_sigmoid_(g, m1)
            c2 = cs[rows]
            if m == k:
                torch.mul(f, c_prev[:k], out=c2).addcmul_(i, g, value=2)
            else:  # the rows from m on start from a zero cell
                torch.mul(i, g, out=c2).mul_(2)
                if m:
                    c2[:m].addcmul_(f[:m], c_prev[:m])
            th = tanh_from_sigmoid_(torch.sigmoid(c2, out=tanh_c[rows]), m1)
            h_prev = torch.mul(o, th, out=hs[rows])
            c_prev = c2
        cs.mul_(0.5)
        last = pk.perm[: pk.k[T - 1]]
        h_T = h0.new_zeros(N, H).index_copy_(0, last, h_prev)
        c_T = c0.new_zeros(N, H).index_copy_(0, last, c_prev)  # cs (c_prev's) is halved
        out = x.new_zeros(T * N, H).index_copy_(0, pk.flat, hs).view(T, N, H)
        ctx.pk = pk
        ctx.save_for_backward(xp, weight_ih, weight_hh, hs, cs, tanh_c, gates, h0s, c0s)
        return out, h_T, c_T

    @staticmethod
    def backward(ctx, grad_out, grad_h, grad_c):
        xp, weight_ih, weight_hh, hs, cs, tanh_c, gates, h0s, c0s = ctx.saved_tensors
        pk = ctx.pk
        M, H = hs.shape
        T, N = len(pk.k), pk.perm.numel()
        D = xp.size(1)
        c_prev = _with_initial(cs, c0s).index_select(0, pk.prev)  # (M, H)
        if grad_out is None:
            dh_all = hs.new_zeros(M, H)
        else:
            dh_all = grad_out.reshape(T * N, H).index_select(0, pk.flat)  # ours: summed into
        dc_from_h, do, factors = backward_factors(gates, tanh_c, c_prev)
        buf = hs.new_empty(M, 5 * H)  # per row [dc_prev, da_i, da_f, da_g, da_o]
        w_hh_back = StepProduct(weight_hh.t(), N, T)  # dh = da W_hh
        last = pk.perm[: pk.k[T - 1]]
        dc_next = None if grad_c is None else grad_c.index_select(0, last)
        if grad_h is not None:
            o_last = pk.off[T - 1]
            dh_all[o_last : o_last + pk.k[T - 1]].add_(grad_h.index_select(0, last))
        for t in range(T - 1, -1, -1):
            start, k = pk.off[t], pk.k[t]
            if k == 0:
                dc_next = None
                continue
            rows = slice(start, start + k)
            dh = dh_all[rows]
            torch.mul(dh, do[rows], out=buf[rows, 4 * H :])
            dc = torch.mul(dh, dc_from_h[rows])
            if dc_next is not None:
                dc[: dc_next.size(0)].add_(dc_next)
            torch.mul(factors[rows], dc.unsqueeze(1), out=buf[rows, : 4 * H].view(k, 4, H))
            m = pk.m[t]
            dc_next = buf[start : start + m, :H] if m else None
            if t > 0 and m:
                p = pk.off[t - 1]
                w_hh_back.add_to(dh_all[p : p + m], buf[start : start + m, H : 5 * H])
        need = ctx.needs_input_grad
        da = buf[:, H:]  # (M, 4H)
        k0 = pk.k[0]
        first = pk.perm[:k0]
        grad_h0 = grad_c0 = None
        if need[1]:
            grad_h0 = h0s.new_zeros(N, H)
            if k0:
                grad_h0.index_copy_(0, first, w_hh_back(buf[:k0, H:]))
        if need[2]:
            grad_c0 = c0s.new_zeros(N, H)
            if k0:
                grad_c0.index_copy_(0, first, buf[:k0, :H])
        grad_x = grad_w_ih = grad_w_hh = grad_b = None
        if need[0]:
            grad_x = xp.new_zeros(T * N, D).index_copy_(0, pk.flat, da.mm(weight_ih))
            grad_x = grad_x.view(T, N, D)
        if need[3]:
            grad_w_ih = da.t().mm(xp)
        if need[4]:
            h_prev = _with_initial(hs, h0s).index_select(0, pk.prev)
            grad_w_hh = da.t().mm(h_prev)
        if need[5]:
            grad_b = da.sum(0)
        return grad_x, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_b, None


def packed_lstm_sequence(
    x: Tensor, h0: Tensor, c0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor,
    pk: Packing,
) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """``(output (T, N, H), h_T, c_T)`` of FastLSTM's equations over the real steps of
    :func:`packing`'s layout: the masked kernel's results. Differentiable in every tensor."""
    return _PackedLSTM.apply(x, h0, c0, weight_ih, weight_hh, bias, pk)
