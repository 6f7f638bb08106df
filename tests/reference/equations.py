"""Reference implementations of the recurrent equations, written from the papers.

Plain torch ops only, one gate block at a time and an explicit loop over time and, where it
helps readability, over samples; nothing here imports rnnkit, so a bug in the library cannot
leak into the reference. Every function takes explicit weight tensors and a whole sequence
``x (T, N, D)`` and returns the outputs ``(T, N, H)``.

Weight layouts are torch.nn's: gate blocks of ``H`` rows stacked into ``(G*H, D)`` matrices,
LSTM gates ordered ``[i, f, g, o]``, GRU gates ``[r, z, n]``.
"""

from __future__ import annotations

import torch


def _blk(w: torch.Tensor, k: int, H: int) -> torch.Tensor:
    """Rows ``k*H .. (k+1)*H`` (gate block ``k``) of a stacked weight or bias."""
    return w[k * H : (k + 1) * H]


def _lin(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    y = x @ w.t()
    return y if b is None else y + b


def _sigmoid(a: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + torch.exp(-a))


def peephole_lstm(x, weight_ih, weight_hh, bias, weight_ci, weight_cf, weight_co):
    """Graves (2013) LSTM with diagonal peepholes; the output gate peeps at the *new* cell.

    i = σ(W_xi x + W_hi h + w_ci ⊙ c + b_i); f = σ(W_xf x + W_hf h + w_cf ⊙ c + b_f);
    z = tanh(W_xc x + W_hc h + b_c); c' = f ⊙ c + i ⊙ z;
    o = σ(W_xo x + W_ho h + w_co ⊙ c' + b_o); h' = o ⊙ tanh(c').
    """
    T, N, _ = x.shape
    H = weight_hh.size(1)
    h = x.new_zeros(N, H)
    c = x.new_zeros(N, H)
    outs = []
    for t in range(T):
        xt = x[t]

        def pre(k, xt=xt, h=h):
            return _lin(xt, _blk(weight_ih, k, H), _blk(bias, k, H)) + _lin(
                h, _blk(weight_hh, k, H)
            )

        i = _sigmoid(pre(0) + weight_ci * c)
        f = _sigmoid(pre(1) + weight_cf * c)
        z = torch.tanh(pre(2))
        c = f * c + i * z
        o = _sigmoid(pre(3) + weight_co * c)
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs)


def lstm(x, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """LSTM without peepholes: i, f, o = σ(·), g = tanh(·); c' = f c + i g; h' = o tanh(c')."""
    T, N, _ = x.shape
    H = weight_hh.size(1)
    h = x.new_zeros(N, H)
    c = x.new_zeros(N, H)
    outs = []
    for t in range(T):
        a = []
        for k in range(4):
            ak = _lin(x[t], _blk(weight_ih, k, H)) + _lin(h, _blk(weight_hh, k, H))
            if bias_ih is not None:
                ak = ak + _blk(bias_ih, k, H)
            if bias_hh is not None:
                ak = ak + _blk(bias_hh, k, H)
            a.append(ak)
        i, f, g, o = _sigmoid(a[0]), _sigmoid(a[1]), torch.tanh(a[2]), _sigmoid(a[3])
        c = f * c + i * g
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs)


def batch_norm(a, bn: dict, eps: float, training: bool, momentum: float | None = None):
    """``BN(a) = γ (a - μ) / √(σ² + ε) + β`` over the batch (dim 0).

    ``bn`` holds ``weight``, ``bias`` (γ, β; ``None`` when not affine), ``running_mean`` and
    ``running_var``. Training: biased batch statistics, and (when ``momentum`` is given) the
    running statistics in ``bn`` are replaced by ``(1-m) running + m batch`` (unbiased var).
    Evaluation: the running statistics.
    """
    if training:
        n = a.size(0)
        mean = a.sum(0) / n
        var = ((a - mean) ** 2).sum(0) / n
        if momentum is not None:
            bn["running_mean"] = (1 - momentum) * bn["running_mean"] + momentum * mean.detach()
            unbiased = var.detach() * n / (n - 1)
            bn["running_var"] = (1 - momentum) * bn["running_var"] + momentum * unbiased
    else:
        mean, var = bn["running_mean"], bn["running_var"]
    y = (a - mean) / torch.sqrt(var + eps)
    if bn.get("weight") is not None:
        y = y * bn["weight"] + bn["bias"]
    return y


def bn_lstm(x, weight_ih, weight_hh, bias, bn_ih, bn_hh, bn_c, eps, training=True, momentum=None):
    """Recurrent batch-normalised LSTM (Cooijmans et al. 2016), one set of BN statistics
    shared by all time steps: a = BN(W_ih x) + BN(W_hh h) + b; c' = f c + i g;
    h' = o tanh(BN(c'))."""
    T, N, _ = x.shape
    H = weight_hh.size(1)
    h = x.new_zeros(N, H)
    c = x.new_zeros(N, H)
    outs = []
    for t in range(T):
        a = (
            batch_norm(_lin(x[t], weight_ih), bn_ih, eps, training, momentum)
            + batch_norm(_lin(h, weight_hh), bn_hh, eps, training, momentum)
            + bias
        )
        i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H])
        g, o = torch.tanh(a[:, 2 * H : 3 * H]), _sigmoid(a[:, 3 * H :])
        c = f * c + i * g
        h = o * torch.tanh(batch_norm(c, bn_c, eps, training, momentum))
        outs.append(h)
    return torch.stack(outs)


def gru(x, weight_ih, weight_hh, bias_ih, bias_hh, reset_after=False, x_masks=None, h_masks=None):
    """GRU, gates ``[r, z, n]``.

    r = σ(W_ir x + b_ir + W_hr h + b_hr); z = σ(W_iz x + b_iz + W_hz h + b_hz);
    Cho et al.: n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn);
    reset-after (torch.nn.GRU): n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));
    h' = (1 - z) ⊙ n + z ⊙ h.
    Variational dropout (Gal): ``x_masks (3, N or 1, D)``, ``h_masks (3, N or 1, H)`` multiply
    the input / the state on the path into gate block k, the same masks at every step.
    """
    T, N, _ = x.shape
    H = weight_hh.size(1)
    h = x.new_zeros(N, H)
    outs = []
    for t in range(T):
        xk = [x[t] if x_masks is None else x[t] * x_masks[k] for k in range(3)]
        hk = [h if h_masks is None else h * h_masks[k] for k in range(3)]

        def inp(k, xk=xk):
            return _lin(xk[k], _blk(weight_ih, k, H), _blk(bias_ih, k, H))

        def rec(k, v):
            return _lin(v, _blk(weight_hh, k, H), _blk(bias_hh, k, H))

        r = _sigmoid(inp(0) + rec(0, hk[0]))
        z = _sigmoid(inp(1) + rec(1, hk[1]))
        if reset_after:
            n = torch.tanh(inp(2) + r * rec(2, hk[2]))
        else:
            n = torch.tanh(inp(2) + rec(2, r * hk[2]))
        h = (1 - z) * n + z * h
        outs.append(h)
    return torch.stack(outs)


MUFURU_OPS = {
    "keep": lambda s, v: s,
    "replace": lambda s, v: v,
    "mul": lambda s, v: s * v,
    "diff": lambda s, v: s - v,
    "forget": lambda s, v: 0 * s,
    "sqrt_diff": lambda s, v: 0.25 * torch.sqrt(torch.abs(s - v)),
    "max": lambda s, v: torch.where(s > v, s, v),
    "min": lambda s, v: torch.where(s < v, s, v),
}


def mufuru(x, ops, weight_xr, bias_xr, weight_sr, bias_sr, weight_v, bias_v, weight_p, bias_p):
    """Multi-Function Recurrent Unit (Weissenborn & Rocktäschel 2016, as the original's code).

    r = σ(W_xr x + b_xr + W_sr s + b_sr); v = σ(W_v [x, r ⊙ s] + b_v);
    logits of op j = rows j*H..(j+1)*H of W_p [x, s] + b_p; p = softmax over the J ops,
    independently per hidden unit; s' = Σ_j p_j ⊙ op_j(s, v).
    """
    T, N, _ = x.shape
    H = weight_sr.size(0)
    s = x.new_zeros(N, H)
    outs = []
    for t in range(T):
        r = _sigmoid(_lin(x[t], weight_xr, bias_xr) + _lin(s, weight_sr, bias_sr))
        v = _sigmoid(_lin(torch.cat([x[t], r * s], 1), weight_v, bias_v))
        xs = torch.cat([x[t], s], 1)
        logits = [_lin(xs, _blk(weight_p, j, H), _blk(bias_p, j, H)) for j in range(len(ops))]
        top = logits[0]
        for lj in logits[1:]:
            top = torch.maximum(top, lj)
        e = [torch.exp(lj - top) for lj in logits]
        total = sum(e)
        s = sum((e[j] / total) * MUFURU_OPS[name](s, v) for j, name in enumerate(ops))
        outs.append(s)
    return torch.stack(outs)


def simple_rnn(x, weight_in, bias_in, weight_fb, bias_fb, start_bias=None, activation=torch.tanh):
    """Elman RNN: h[t] = act(W_in x[t] + b_in + W_fb h[t-1] + b_fb), h[0] = 0.

    With ``start_bias`` (the original's ``nn.Recurrent``): the first step is
    h[1] = act(W_in x[1] + b_in + b_start), with no feedback term.
    """
    T = x.size(0)
    h = x.new_zeros(x.size(1), weight_fb.size(1))
    outs = []
    for t in range(T):
        a = _lin(x[t], weight_in, bias_in)
        if t == 0 and start_bias is not None:
            a = a + start_bias
        else:
            a = a + _lin(h, weight_fb, bias_fb)
        h = activation(a)
        outs.append(h)
    return torch.stack(outs)


def norm_stabilizer_penalty(hs, beta=1.0):
    """Krueger & Memisevic: β/N · Σ_t Σ_n (‖h[t, n]‖ - ‖h[t-1, n]‖)², for ``hs (T, N, H)``."""
    T, N, _ = hs.shape
    total = hs.new_zeros(())
    for t in range(1, T):
        for n in range(N):
            now = torch.sqrt((hs[t, n] ** 2).sum())
            before = torch.sqrt((hs[t - 1, n] ** 2).sum())
            total = total + (now - before) ** 2
    return beta / N * total
