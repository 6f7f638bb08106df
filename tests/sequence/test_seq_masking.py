"""maskzero on the fused layers: a padded batch equals each sequence run on its own.

Each row is one run of real (non-zero) steps with zero padding before and/or after it.
Padded steps output exactly zero and reset the state, as ``Sequencer(step.mask_zero(1))``
does: a row that starts late ignores the given initial state, a row that ends early has a
zero final state. Checked for SeqLSTM, SeqGRU, SeqRNN and SeqLSTMP against per-sequence
runs, and for SeqLSTM/SeqGRU against their step twins, outputs, final states and gradients.
"""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from rnnkit import SeqGRU, SeqLSTM, SeqLSTMP, SeqRNN, Sequencer

T, D, H, R = 5, 3, 4, 2
TIGHT = dict(rtol=1e-10, atol=1e-12)
EXACT = dict(rtol=0, atol=0)

# name -> (constructor, state sizes, step twin or None)
KINDS = {
    "SeqLSTM": (lambda **kw: SeqLSTM(D, H, **kw), (H, H), lambda s: s.to_fast_lstm()),
    "SeqGRU": (lambda **kw: SeqGRU(D, H, **kw), (H,), lambda s: s.to_gru()),
    "SeqRNN": (lambda **kw: SeqRNN(D, H, **kw), (H,), None),
    "SeqLSTMP": (lambda **kw: SeqLSTMP(D, H, R, **kw), (R, H), None),
    "SeqLSTMP_wide": (lambda **kw: SeqLSTMP(D, H, H + 1, **kw), (H + 1, H), None),  # R > H
}
SIDES = ["left", "right", "both", "mixed"]


def _layer(kind, **kw):
    return KINDS[kind][0](maskzero=True, **kw)


def _pack(states):
    return tuple(states) if len(states) == 2 else states[0]


def _flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def _starts(lengths, side, T):
    if side == "mixed":
        sides = ["left", "right", "both"]
        return [_starts([n], sides[i % 3], T)[0] for i, n in enumerate(lengths)]
    return [{"left": T - n, "right": 0, "both": (T - n) // 2}[side] for n in lengths]


def padded_batch(lengths, starts, T, D):
    """``x (T, N, D)`` with row i real on steps ``starts[i] .. starts[i]+lengths[i]-1``."""
    x = torch.randn(T, len(lengths), D)
    t = torch.arange(T).unsqueeze(1)
    s, n = torch.tensor(starts), torch.tensor(lengths)
    valid = (t >= s) & (t < s + n)
    return x * valid.unsqueeze(2), valid


def per_sequence(layer, x, lengths, starts, state, sizes):
    """Expected output and final state (of feature ``sizes``), running each row alone."""
    T, N = x.shape[:2]
    states = _flat(state) if state is not None else None
    out = x.new_zeros(T, N, layer.output_size)
    finals = [x.new_zeros(N, size) for size in sizes]
    for i, (s, n) in enumerate(zip(starts, lengths)):
        if n == 0:
            continue
        row_state = None
        if states is not None and s == 0:  # a row that starts late starts from zeros
            row_state = _pack([h[i : i + 1] for h in states])
        o, f = layer(x[s : s + n, i : i + 1], state=row_state, return_state=True)
        out = out.index_put((torch.arange(s, s + n), torch.tensor([i])), o[:, 0])
        if s + n == T:  # a row that ends early ends with a zero state
            finals = [fin.index_put((torch.tensor([i]),), g[0]) for fin, g in zip(finals, _flat(f))]
    return out, finals


def _random_state(kind, n, requires_grad=False):
    return _pack([torch.randn(n, k, requires_grad=requires_grad) for k in KINDS[kind][1]])


def _lengths_0_to_T():
    return torch.randperm(T + 1).tolist()  # every length 0..T, one all-padding row


@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_padded_batch_equals_per_sequence(kind, side, with_state, float64):
    layer = _layer(kind)
    lengths = _lengths_0_to_T()
    starts = _starts(lengths, side, T)
    x, valid = padded_batch(lengths, starts, T, D)
    state = _random_state(kind, len(lengths)) if with_state else None

    out, final = layer(x, state=state, return_state=True)
    ref, ref_final = per_sequence(layer, x, lengths, starts, state, KINDS[kind][1])
    assert_close(out, ref, **TIGHT)
    assert_close(out[~valid], torch.zeros_like(out[~valid]), **EXACT)  # padding is exactly 0
    empty = lengths.index(0)
    assert_close(out[:, empty], torch.zeros(T, layer.output_size), **EXACT)
    for a, b in zip(_flat(final), ref_final):
        assert_close(a, b, **TIGHT)
        assert_close(a[empty], torch.zeros_like(a[empty]), **EXACT)


@pytest.mark.parametrize("side", ["left", "right", "mixed"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_padded_gradients_equal_per_sequence(kind, side, float64):
    layer = _layer(kind)
    lengths = _lengths_0_to_T()
    starts = _starts(lengths, side, T)
    x0, valid = padded_batch(lengths, starts, T, D)
    w = torch.randn(T, len(lengths), layer.output_size)
    state0 = _flat(_random_state(kind, len(lengths)))

    x = x0.clone().requires_grad_()
    state = [s.clone().requires_grad_() for s in state0]
    out, final = layer(x, state=_pack(state), return_state=True)
    ((out * w).sum() + sum(f.sum() for f in _flat(final))).backward()
    grads = {k: p.grad.clone() for k, p in layer.named_parameters()}
    layer.zero_grad()

    xr = x0.clone().requires_grad_()
    state_r = [s.clone().requires_grad_() for s in state0]
    ref, ref_final = per_sequence(layer, xr, lengths, starts, _pack(state_r), KINDS[kind][1])
    ((ref * w).sum() + sum(f.sum() for f in ref_final)).backward()

    assert_close(x.grad, xr.grad, **TIGHT)
    assert_close(x.grad[~valid], torch.zeros_like(x.grad[~valid]), **EXACT)
    for a, b in zip(state, state_r):
        assert_close(a.grad, b.grad, **TIGHT)
    for k, p in layer.named_parameters():
        assert_close(grads[k], p.grad, **TIGHT)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("kind", ["SeqLSTM", "SeqGRU"])
def test_equals_masked_step_twin_with_initial_state(kind, side, float64):
    layer = _layer(kind)
    step = KINDS[kind][2](layer)
    assert step.mask_n_input_dim == 1
    lengths = _lengths_0_to_T()
    x0, _ = padded_batch(lengths, _starts(lengths, side, T), T, D)
    w = torch.randn(T, len(lengths), H)
    state0 = _flat(_random_state(kind, len(lengths)))

    x = x0.clone().requires_grad_()
    state = [s.clone().requires_grad_() for s in state0]
    out, final = layer(x, state=_pack(state), return_state=True)
    ((out * w).sum() + sum(f.sum() for f in _flat(final))).backward()

    xt = x0.clone().requires_grad_()
    state_t = [s.clone().requires_grad_() for s in state0]
    step.set_state(_pack(state_t))
    ref = Sequencer(step)(xt)
    ref_final = _flat(step.get_state())
    ((ref * w).sum() + sum(f.sum() for f in ref_final)).backward()

    assert_close(out, ref, **TIGHT)
    for a, b in zip(_flat(final), ref_final):
        assert_close(a, b, **TIGHT)
    assert_close(x.grad, xt.grad, **TIGHT)
    for a, b in zip(state, state_t):
        assert_close(a.grad, b.grad, **TIGHT)
    for (k, p), (k2, q) in zip(layer.named_parameters(), step.named_parameters()):
        assert k == k2
        assert_close(p.grad, q.grad, **TIGHT)


@pytest.mark.parametrize("kind", list(KINDS))
def test_maskzero_without_zero_rows_changes_nothing(kind, float64):
    # The original's tests 39 and 53.
    masked = _layer(kind)
    plain = KINDS[kind][0]()
    plain.load_state_dict(masked.state_dict())
    x = torch.randn(T, 3, D)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    a, b = masked(xa), plain(xb)
    assert_close(a, b, **EXACT)
    a.sum().backward()
    b.sum().backward()
    assert_close(xa.grad, xb.grad, **EXACT)
    for p, q in zip(masked.parameters(), plain.parameters()):
        assert_close(p.grad, q.grad, **EXACT)


@pytest.mark.parametrize("kind", list(KINDS))
def test_without_maskzero_zero_rows_are_ordinary_input(kind, float64):
    plain = KINDS[kind][0]()
    x, valid = padded_batch([2, 3], [0, 1], T, D)
    out = plain(x)
    assert out[~valid].abs().sum() > 0


@pytest.mark.parametrize("kind", list(KINDS))
def test_batch_first_masked_equals_time_major(kind, float64):
    tm = _layer(kind)
    bf = _layer(kind, batch_first=True)
    bf.load_state_dict(tm.state_dict())
    lengths = _lengths_0_to_T()
    x, _ = padded_batch(lengths, _starts(lengths, "mixed", T), T, D)
    state = _random_state(kind, len(lengths))
    out, final = tm(x, state=state, return_state=True)
    outb, finalb = bf(x.transpose(0, 1), state=state, return_state=True)
    assert_close(outb, out.transpose(0, 1), **TIGHT)
    for a, b in zip(_flat(finalb), _flat(final)):
        assert_close(a, b, **TIGHT)


@pytest.mark.parametrize("kind", list(KINDS))
def test_all_padding_batch_gives_zeros_and_zero_gradients(kind, float64):
    layer = _layer(kind)
    x = torch.zeros(T, 3, D, requires_grad=True)
    state = [torch.randn(3, k, requires_grad=True) for k in KINDS[kind][1]]
    out, final = layer(x, state=_pack(state), return_state=True)
    assert_close(out, torch.zeros(T, 3, layer.output_size), **EXACT)
    for f in _flat(final):
        assert_close(f, torch.zeros_like(f), **EXACT)
    # Like the step twin, backward works and every gradient is zero.
    (out.sum() + sum(f.sum() for f in _flat(final))).backward()
    for t in [x, *state, *layer.parameters()]:
        assert_close(t.grad, torch.zeros_like(t), **EXACT)


def test_remember_with_padding_equals_step_twin(float64):
    layer = _layer("SeqLSTM").remember("both")
    step = layer.to_fast_lstm()
    twin = Sequencer(step).remember("both")
    lengths = _lengths_0_to_T()
    for side in ("right", "left", "mixed"):
        x, _ = padded_batch(lengths, _starts(lengths, side, T), T, D)
        assert_close(layer(x), twin(x), **TIGHT)


def step_by_step(layer, x, state):
    """The reference for zero steps anywhere: one unmasked call per step, resetting by hand."""
    outputs, state = [], _flat(state)
    layer.maskzero = False  # the same weights, unmasked
    try:
        for x_t in x.unbind(0):
            out, new = layer(x_t.unsqueeze(0), _pack(state), return_state=True)
            keep = (x_t != 0).any(1, keepdim=True).to(x.dtype)  # (N, 1)
            outputs.append(out[0] * keep)
            state = [s * keep for s in _flat(new)]
    finally:
        layer.maskzero = True
    return torch.stack(outputs), _pack(state)


@pytest.mark.parametrize("kind", list(KINDS))
def test_zero_steps_anywhere_reset_the_state_there(kind, float64):
    # The original's own test: 20 % of the steps zeroed at random, inside rows too.
    torch.manual_seed(3)
    layer = _layer(kind)
    x = torch.randn(T + 3, 4, D, requires_grad=True)
    keep = (torch.rand(T + 3, 4) > 0.2).unsqueeze(2)
    state = _random_state(kind, 4, requires_grad=True)
    out, final = layer(x * keep, state, return_state=True)
    ref, ref_final = step_by_step(layer, x * keep, state)
    assert_close(out, ref, **TIGHT)
    for a, b in zip(_flat(final), _flat(ref_final)):
        assert_close(a, b, **TIGHT)
    assert bool((out[~keep.squeeze(2)] == 0).all())
    inputs = [x, *_flat(state), *layer.parameters()]
    loss = lambda o, f: o.pow(2).sum() + sum(s.sum() for s in _flat(f))  # noqa: E731
    grads = torch.autograd.grad(loss(out, final), inputs)
    ref_grads = torch.autograd.grad(loss(ref, ref_final), inputs)
    for g, r in zip(grads, ref_grads):
        assert_close(g, r, **TIGHT)


@pytest.mark.parametrize("kind", ["SeqLSTM", "SeqGRU"])
def test_zero_steps_anywhere_equal_the_masked_step_twin(kind, float64):
    layer = _layer(kind)
    x = torch.randn(T + 3, 4, D)
    x[torch.rand(T + 3, 4) < 0.2] = 0
    twin = KINDS[kind][2](layer)
    assert twin.mask_n_input_dim == 1
    stepped = torch.stack([twin(x_t) for x_t in x.unbind(0)])  # by hand: no kernel
    assert_close(layer(x), stepped, **TIGHT)


@pytest.mark.parametrize("kind", ["SeqLSTM", "SeqGRU"])
def test_gradcheck_zero_steps_anywhere(kind, float64):
    layer = _layer(kind)
    keep = torch.tensor([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]]).bool().unsqueeze(2)
    vals = (torch.rand(4, 3, D) + 0.5).requires_grad_()  # never zero: the mask stays fixed
    assert torch.autograd.gradcheck(lambda v: layer(v * keep), (vals,))


@pytest.mark.parametrize("kind", ["SeqLSTM", "SeqGRU"])
def test_gradcheck_through_the_packed_path(kind, float64):
    # Perturbing a padding entry would change the mask, so only the real entries vary.
    layer = KINDS[kind][0](maskzero=True)
    _, valid = padded_batch([2, 3, 1], [0, 2, 1], 4, D)
    mask = valid.unsqueeze(2).expand(-1, -1, D)
    vals = torch.randn(int(mask.sum()), requires_grad=True)
    state = [torch.randn(3, k, requires_grad=True) for k in KINDS[kind][1]]

    def f(vals, *state):
        x = torch.zeros(4, 3, D).masked_scatter(mask, vals)
        out, final = layer(x, state=_pack(list(state)), return_state=True)
        return (out, *_flat(final))

    assert torch.autograd.gradcheck(f, (vals, *state))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    t=st.integers(1, 6),
    n=st.integers(1, 5),
    with_state=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_seq_lstm_padding_equals_per_sequence_and_step_twin(data, t, n, with_state, seed):
    torch.manual_seed(seed)
    lengths = data.draw(st.lists(st.integers(0, t), min_size=n, max_size=n), label="lengths")
    sides = data.draw(
        st.lists(st.sampled_from(["left", "right", "both"]), min_size=n, max_size=n),
        label="sides",
    )
    starts = [_starts([m], side, t)[0] for m, side in zip(lengths, sides)]
    layer = SeqLSTM(D, H, maskzero=True, dtype=torch.float64)
    x, _ = padded_batch(lengths, starts, t, D)
    x = x.double()
    state = (torch.randn(n, H).double(), torch.randn(n, H).double()) if with_state else None

    out, (h, c) = layer(x, state=state, return_state=True)
    ref, (rh, rc) = per_sequence(layer, x, lengths, starts, state, (H, H))
    assert_close(out, ref, **TIGHT)
    assert_close(h, rh, **TIGHT)
    assert_close(c, rc, **TIGHT)

    step = layer.to_fast_lstm()
    if state is not None:
        step.set_state(state)
    assert_close(Sequencer(step)(x), out, **TIGHT)
    for a, b in zip(step.get_state(), (h, c)):
        assert_close(a, b, **TIGHT)
