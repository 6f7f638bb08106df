"""SeqLSTM and SeqLSTMP, plus the behaviour every fused layer shares.

SeqLSTM against its step twin ``Sequencer(seq.to_fast_lstm())``, the reference equations
and a plain-torch loop; SeqLSTMP against ``torch.nn.LSTM(proj_size=R)`` and a plain loop;
gradcheck (input, initial state, parameters); ``from_fast_lstm`` round trip. The shared
sections (remember modes, ``return_state``, ``batch_first``, bad input) are parametrized over
all four fused layers: SeqLSTM, SeqLSTMP, SeqGRU, SeqRNN.
"""

import copy

import pytest
import torch
from reference import equations as eq
from torch import nn
from torch.testing import assert_close

from rnnkit import FastLSTM, SeqGRU, SeqLSTM, SeqLSTMP, SeqRNN, Sequencer

T, N, D, H, R = 5, 3, 4, 6, 3
TIGHT = dict(rtol=1e-10, atol=1e-12)
PARAMS = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]

# name -> (constructor, whether the state is a (h, c) pair, output size)
KINDS = {
    "SeqLSTM": (lambda **kw: SeqLSTM(D, H, **kw), True, H),
    "SeqLSTMP": (lambda **kw: SeqLSTMP(D, H, R, **kw), True, R),
    "SeqGRU": (lambda **kw: SeqGRU(D, H, **kw), False, H),
    "SeqRNN": (lambda **kw: SeqRNN(D, H, **kw), False, H),
}


def _state(kind, n=N, requires_grad=False):
    _, pair, out = KINDS[kind]
    if pair:
        return (
            torch.randn(n, out, requires_grad=requires_grad),
            torch.randn(n, H, requires_grad=requires_grad),
        )
    return torch.randn(n, out, requires_grad=requires_grad)


def _flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def _grads(module):
    return {k: p.grad.clone() for k, p in module.named_parameters()}


def lstm_loop(x, weight_ih, weight_hh, bias_ih, bias_hh, h, c, weight_hr=None):
    """Plain-torch LSTM(P): gates [i, f, g, o]; r = W_hr h is both output and recurrent input."""
    outs = []
    for t in range(x.size(0)):
        a = x[t] @ weight_ih.t() + bias_ih + h @ weight_hh.t() + bias_hh
        i, f, g, o = a.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if weight_hr is not None:
            h = h @ weight_hr.t()
        outs.append(h)
    return torch.stack(outs), (h, c)


# ---------------------------------------------------------------------------- SeqLSTM twins
def test_equals_sequencer_of_to_fast_lstm_outputs_and_gradients(float64):
    seq = SeqLSTM(D, H)
    step = seq.to_fast_lstm()
    assert isinstance(step, FastLSTM)
    x = torch.randn(T, N, D)
    w = torch.randn(T, N, H)

    xa = x.clone().requires_grad_()
    out = seq(xa)
    (out * w).sum().backward()
    xb = x.clone().requires_grad_()
    ref = Sequencer(step)(xb)
    (ref * w).sum().backward()

    assert_close(out, ref, **TIGHT)
    assert_close(xa.grad, xb.grad, **TIGHT)
    ga, gb = _grads(seq), _grads(step)
    assert sorted(ga) == sorted(PARAMS) == sorted(gb)
    for k in PARAMS:
        assert_close(ga[k], gb[k], **TIGHT)


def test_equals_reference_equations(float64):
    seq = SeqLSTM(D, H)
    x = torch.randn(T, N, D)
    ref = eq.lstm(x, seq.weight_ih, seq.weight_hh, seq.bias_ih, seq.bias_hh)
    assert_close(seq(x), ref, **TIGHT)


def test_equals_plain_loop_with_initial_state(float64):
    seq = SeqLSTM(D, H)
    x = torch.randn(T, N, D)
    h0, c0 = torch.randn(N, H), torch.randn(N, H)
    out, (h, c) = seq(x, state=(h0, c0), return_state=True)
    ref, (rh, rc) = lstm_loop(x, *[getattr(seq, k) for k in PARAMS], h0, c0)
    assert_close(out, ref, **TIGHT)
    assert_close(h, rh, **TIGHT)
    assert_close(c, rc, **TIGHT)


def test_to_fast_lstm_copies_weights_and_does_not_share_them(float64):
    seq = SeqLSTM(D, H)
    step = seq.to_fast_lstm()
    for k in PARAMS:
        assert_close(getattr(step, k), getattr(seq, k), rtol=0, atol=0)
        assert getattr(step, k).data_ptr() != getattr(seq, k).data_ptr()
    assert step.mask_n_input_dim is None
    assert SeqLSTM(D, H, maskzero=True).to_fast_lstm().mask_n_input_dim == 1


def test_from_fast_lstm_round_trip(float64):
    step = FastLSTM(D, H)
    seq = SeqLSTM.from_fast_lstm(step, batch_first=True, maskzero=True)
    assert seq.batch_first and seq.maskzero
    x = torch.randn(T, N, D)
    assert_close(seq(x.transpose(0, 1)).transpose(0, 1), Sequencer(step)(x), **TIGHT)
    back = seq.to_fast_lstm()
    for k in PARAMS:
        assert_close(getattr(back, k), getattr(step, k), rtol=0, atol=0)
    step.weight_ih.data.add_(1.0)  # a copy, not a view
    assert not torch.equal(seq.weight_ih, step.weight_ih)


def test_from_fast_lstm_rejects_batchnorm():
    with pytest.raises(
        ValueError, match="SeqLSTM.from_fast_lstm: expected a FastLSTM without batchnorm"
    ):
        SeqLSTM.from_fast_lstm(FastLSTM(D, H, batchnorm=True))
    with pytest.raises(ValueError, match="from_fast_lstm"):
        SeqLSTM.from_fast_lstm(nn.LSTM(D, H))


def test_initial_state_matches_step_twin_and_receives_gradient(float64):
    seq = SeqLSTM(D, H)
    step = seq.to_fast_lstm()
    x = torch.randn(T, N, D)
    w = torch.randn(T, N, H)
    h0, c0 = torch.randn(N, H, requires_grad=True), torch.randn(N, H, requires_grad=True)
    out = seq(x, state=(h0, c0))
    assert not torch.allclose(out, seq(x))
    (out * w).sum().backward()

    h1, c1 = (t.detach().clone().requires_grad_() for t in (h0, c0))
    step.set_state((h1, c1))
    ref = Sequencer(step)(x)
    (ref * w).sum().backward()
    assert_close(out, ref, **TIGHT)
    assert h0.grad.abs().sum() > 0 and c0.grad.abs().sum() > 0
    assert_close(h0.grad, h1.grad, **TIGHT)
    assert_close(c0.grad, c1.grad, **TIGHT)


def _gradcheck_layer(layer, x, state):
    names = [k for k, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    flat = _flat(state)

    def f(x, *rest):
        st = rest[: len(flat)]
        st = tuple(st) if len(flat) == 2 else st[0]
        ps = dict(zip(names, rest[len(flat) :]))
        out, final = torch.func.functional_call(
            layer, ps, (x,), {"state": st, "return_state": True}
        )
        return (out, *_flat(final))

    assert torch.autograd.gradcheck(f, (x, *flat, *params))


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradcheck_input_state_and_parameters(kind, float64):
    layer = KINDS[kind][0]()
    x = torch.randn(3, 2, D, requires_grad=True)
    _gradcheck_layer(layer, x, _state(kind, n=2, requires_grad=True))


# ---------------------------------------------------------------------------- SeqLSTMP
def _copy_to_torch_lstmp(seq):
    ref = nn.LSTM(D, H, proj_size=R)
    with torch.no_grad():
        for k in [*PARAMS, "weight_hr"]:
            getattr(ref, k + "_l0").copy_(getattr(seq, k))
    return ref


def test_seq_lstmp_equals_torch_lstm_with_projection(float64):
    seq = SeqLSTMP(D, H, R)
    ref = _copy_to_torch_lstmp(seq)
    x = torch.randn(T, N, D)
    w = torch.randn(T, N, R)
    r0, c0 = torch.randn(N, R), torch.randn(N, H)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()

    out, (r, c) = seq(xa, state=(r0, c0), return_state=True)
    ((out * w).sum() + r.sum() + c.sum()).backward()
    rout, (rr, rc) = ref(xb, (r0.unsqueeze(0), c0.unsqueeze(0)))
    ((rout * w).sum() + rr.sum() + rc.sum()).backward()

    assert out.shape == (T, N, R) and r.shape == (N, R) and c.shape == (N, H)
    assert_close(out, rout, **TIGHT)
    assert_close(r, rr[0], **TIGHT)
    assert_close(c, rc[0], **TIGHT)
    assert_close(xa.grad, xb.grad, **TIGHT)
    for k in [*PARAMS, "weight_hr"]:
        assert_close(getattr(seq, k).grad, getattr(ref, k + "_l0").grad, **TIGHT)


def test_seq_lstmp_equals_plain_loop(float64):
    seq = SeqLSTMP(D, H, R)
    x = torch.randn(T, N, D)
    r0, c0 = torch.randn(N, R), torch.randn(N, H)
    out, (r, c) = seq(x, state=(r0, c0), return_state=True)
    ref, (rr, rc) = lstm_loop(x, *[getattr(seq, k) for k in PARAMS], r0, c0, seq.weight_hr)
    assert_close(out, ref, **TIGHT)
    assert_close(r, rr, **TIGHT)
    assert_close(c, rc, **TIGHT)


@pytest.mark.parametrize("r", [H, H + 2], ids=["R=H", "R>H"])
def test_seq_lstmp_projection_not_smaller_than_cell_equals_plain_loop(r, float64):
    # torch.nn.LSTM refuses proj_size >= hidden_size; SeqLSTMP must still compute the equations.
    seq = SeqLSTMP(D, H, r)
    x = torch.randn(T, N, D, requires_grad=True)
    r0 = torch.randn(N, r, requires_grad=True)
    c0 = torch.randn(N, H, requires_grad=True)
    out, (rT, cT) = seq(x, state=(r0, c0), return_state=True)
    assert out.shape == (T, N, r) and rT.shape == (N, r) and cT.shape == (N, H)
    names = [*PARAMS, "weight_hr"]
    params = [getattr(seq, k).detach().clone().requires_grad_() for k in names]
    leaves = [t.detach().clone().requires_grad_() for t in (x, r0, c0)]
    ref, (rr, rc) = lstm_loop(leaves[0], *params[:4], leaves[1], leaves[2], params[4])
    assert_close(out, ref, **TIGHT)
    assert_close(rT, rr, **TIGHT)
    assert_close(cT, rc, **TIGHT)
    w = torch.randn(T, N, r)
    ((out * w).sum() + rT.sum() + cT.sum()).backward()
    ((ref * w).sum() + rr.sum() + rc.sum()).backward()
    for a, b in zip((x, r0, c0), leaves):
        assert_close(a.grad, b.grad, **TIGHT)
    for k, p in zip(names, params):
        assert_close(getattr(seq, k).grad, p.grad, **TIGHT)


def test_seq_lstmp_with_identity_projection_equals_seq_lstm(float64):
    # The original's test 40: H = R and weight_hr = I gives SeqLSTM, and weight_hr still learns.
    p = SeqLSTMP(D, H, H)
    s = SeqLSTM(D, H)
    with torch.no_grad():
        p.weight_hr.copy_(torch.eye(H))
        for k in PARAMS:
            getattr(p, k).copy_(getattr(s, k))
    x = torch.randn(T, N, D)
    out = p(x)
    assert_close(out, s(x), **TIGHT)
    out.sum().backward()
    assert p.weight_hr.grad.abs().sum() > 0


# ---------------------------------------------------------------------------- shared behaviour
@pytest.mark.parametrize("kind", list(KINDS))
def test_batch_first_equals_transposed_time_major(kind, float64):
    tm = KINDS[kind][0]()
    bf = KINDS[kind][0](batch_first=True)
    bf.load_state_dict(tm.state_dict())
    x = torch.randn(T, N, D, requires_grad=True)
    xb = x.detach().transpose(0, 1).clone().requires_grad_()
    state = _state(kind)
    out, final = tm(x, state=state, return_state=True)
    outb, finalb = bf(xb, state=state, return_state=True)
    assert outb.shape == (N, T, KINDS[kind][2])
    assert_close(outb, out.transpose(0, 1), **TIGHT)
    for a, b in zip(_flat(finalb), _flat(final)):
        assert_close(a, b, **TIGHT)
    w = torch.randn_like(out)
    (out * w).sum().backward()
    (outb * w.transpose(0, 1)).sum().backward()
    assert_close(xb.grad, x.grad.transpose(0, 1), **TIGHT)


@pytest.mark.parametrize("kind", list(KINDS))
def test_return_state_has_the_form_of_state(kind, float64):
    layer = KINDS[kind][0]()
    _, pair, out_size = KINDS[kind]
    x = torch.randn(T, N, D)
    out, final = layer(x, return_state=True)
    assert_close(layer(x), out, rtol=0, atol=0)
    if pair:
        assert isinstance(final, tuple) and len(final) == 2
        assert final[0].shape == (N, out_size) and final[1].shape == (N, H)
        h = final[0]
    else:
        assert isinstance(final, torch.Tensor) and final.shape == (N, H)
        h = final
    assert_close(h, out[-1], rtol=0, atol=0)
    # The final state is accepted back as a state: two halves equal the whole.
    out1, mid = layer(x[:2], return_state=True)
    out2 = layer(x[2:], state=mid)
    assert_close(torch.cat([out1, out2]), out, **TIGHT)


@pytest.mark.parametrize("kind", list(KINDS))
def test_final_state_is_differentiable_encoder_to_decoder(kind, float64):
    enc = KINDS[kind][0]()
    dec = KINDS[kind][0]()
    y = torch.randn(2, 2, D)

    def f(x):
        _, final = enc(x, return_state=True)
        return dec(y, state=final)

    x = torch.randn(3, 2, D, requires_grad=True)
    f(x).sum().backward()
    assert x.grad.abs().sum() > 0
    assert enc.weight_ih.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(f, (x.detach().requires_grad_(),))


def _fresh_copy(layer):
    return copy.deepcopy(layer)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_remember_both_two_chunks_equal_one_long_call(kind, training, float64):
    layer = KINDS[kind][0]().train(training)
    ref = _fresh_copy(layer)
    assert layer.remember("both") is layer
    x = torch.randn(T, N, D)
    whole, final = ref(x, return_state=True)
    y1 = layer(x[:2])
    y2, final2 = layer(x[2:], return_state=True)
    assert_close(torch.cat([y1, y2]), whole, **TIGHT)
    for a, b in zip(_flat(final2), _flat(final)):
        assert_close(a, b, **TIGHT)


@pytest.mark.parametrize(
    "mode, carries_train, carries_eval",
    [
        ("neither", False, False),
        ("both", True, True),
        ("train", True, False),
        ("eval", False, True),
    ],
)
@pytest.mark.parametrize("kind", ["SeqLSTM", "SeqGRU"])
def test_remember_modes(kind, mode, carries_train, carries_eval, float64):
    layer = KINDS[kind][0]().remember(mode)
    assert layer.remember_mode == mode
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    for training, carries in ((True, carries_train), (False, carries_eval)):
        layer.train(training)
        ref = _fresh_copy(layer)
        ref.forget()
        whole, alone = ref(torch.cat([x1, x2]))[2:], ref(x2)
        layer.forget()
        layer(x1)
        y2 = layer(x2)
        assert_close(y2, whole if carries else alone, **TIGHT)
        assert not torch.allclose(y2, alone if carries else whole)


def test_default_remember_mode_is_neither_and_bad_mode_raises():
    layer = SeqLSTM(D, H)
    assert layer.remember_mode == "neither"
    with pytest.raises(ValueError, match=r"SeqLSTM: expected remember mode .*'sometimes'"):
        layer.remember("sometimes")


@pytest.mark.parametrize("kind", list(KINDS))
def test_forget_resets_and_mode_switch_forgets(kind, float64):
    layer = KINDS[kind][0]().remember("both")
    x = torch.randn(T, N, D)
    first = layer(x)
    assert not torch.allclose(layer(x), first)  # carried
    layer.forget()
    assert_close(layer(x), first, rtol=0, atol=0)
    layer.eval()  # switching mode forgets too
    assert_close(layer(x), first, **TIGHT)


@pytest.mark.parametrize("kind", list(KINDS))
def test_carried_state_is_detached(kind, float64):
    layer = KINDS[kind][0]().remember("both")
    x1 = torch.randn(2, N, D, requires_grad=True)
    x2 = torch.randn(3, N, D, requires_grad=True)
    layer(x1)
    layer(x2).sum().backward()
    assert x1.grad is None
    assert x2.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", list(KINDS))
def test_batch_change_while_remembering_raises(kind):
    layer = KINDS[kind][0]().remember("both")
    layer(torch.randn(T, N, D))
    with pytest.raises(
        ValueError,
        match=rf"{kind}: the carried state has batch size {N} but the input has batch size 2",
    ):
        layer(torch.randn(T, 2, D))
    layer.forget()
    assert layer(torch.randn(T, 2, D)).shape[1] == 2


def test_issue_207_batch_first_remember_then_eval_forget_with_batch_1():
    # The original's test 42: train with one batch size, then evaluate()+forget(), batch 1.
    layer = SeqLSTM(D, H, batch_first=True).remember("both")
    layer(torch.randn(8, T, D))
    layer.eval()
    layer.forget()
    assert layer(torch.randn(1, T, D)).shape == (1, T, H)
    assert layer(torch.randn(1, 2, D)).shape == (1, 2, H)  # still remembering, batch 1


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_argument_takes_precedence_over_remembered_state(kind, float64):
    layer = KINDS[kind][0]().remember("both")
    ref = _fresh_copy(layer)
    x = torch.randn(T, N, D)
    state = _state(kind)
    layer(x)
    assert_close(layer(x, state=state), ref(x, state=state), **TIGHT)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kind", list(KINDS))
def test_bad_input_shapes_raise_naming_module_expected_and_received(kind):
    layer = KINDS[kind][0]()
    with pytest.raises(
        ValueError, match=rf"{kind}: expected input of shape \(T, N, {D}\), got \({T}, {D}\)"
    ):
        layer(torch.randn(T, D))
    with pytest.raises(
        ValueError,
        match=rf"{kind}: expected input of shape \(T, N, {D}\), got \({T}, {N}, {D + 1}\)",
    ):
        layer(torch.randn(T, N, D + 1))
    with pytest.raises(ValueError, match=rf"{kind}: expected a sequence of at least one step"):
        layer(torch.randn(0, N, D))
    bf = KINDS[kind][0](batch_first=True)
    with pytest.raises(
        ValueError,
        match=rf"{kind}: expected input of shape \(N, T, {D}\), got \({N}, {T}, {D + 1}\)",
    ):
        bf(torch.randn(N, T, D + 1))


@pytest.mark.parametrize("kind", list(KINDS))
def test_bad_input_types_raise(kind):
    layer = KINDS[kind][0]()
    with pytest.raises(TypeError, match=rf"{kind}: expected a floating-point input .*torch.int64"):
        layer(torch.ones(T, N, D, dtype=torch.long))
    with pytest.raises(TypeError, match=rf"{kind}: expected input with dtype torch.float32"):
        layer(torch.randn(T, N, D, dtype=torch.float64))
    with pytest.raises(
        ValueError,
        match=rf"{kind}: expected step 1 of the input of shape \(N, {D}\), got \({N}, {D + 1}\)",
    ):
        layer([torch.randn(N, D), torch.randn(N, D + 1)])
    with pytest.raises(TypeError, match=rf"{kind}: expected input to be a torch.Tensor, got dict"):
        layer({})


@pytest.mark.parametrize("kind", list(KINDS))
def test_list_input_gives_a_list_equal_to_the_tensor_output(kind):
    layer = KINDS[kind][0]()
    x = torch.randn(T, N, D)
    out = layer(list(x.unbind(0)))
    assert isinstance(out, list) and len(out) == T
    torch.testing.assert_close(torch.stack(out), layer(x))


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_of_wrong_shape_raises(kind):
    layer = KINDS[kind][0]()
    _, pair, out_size = KINDS[kind]
    x = torch.randn(T, N, D)
    if pair:
        with pytest.raises(
            ValueError,
            match=rf"{kind}: expected h0 of shape \({N}, {out_size}\), got \(2, {out_size}\)",
        ):
            layer(x, state=(torch.randn(2, out_size), torch.randn(N, H)))
        with pytest.raises(
            ValueError, match=rf"{kind}: expected c0 of shape \({N}, {H}\), got \({N}, {H + 1}\)"
        ):
            layer(x, state=(torch.randn(N, out_size), torch.randn(N, H + 1)))
        with pytest.raises(
            TypeError,
            match=rf"{kind}: expected the state as a tuple \(h0 of shape \({N}, {out_size}\), c0 of shape \({N}, {H}\)\), got a tensor",
        ):
            layer(x, state=torch.randn(N, out_size))
    else:
        with pytest.raises(
            ValueError, match=rf"{kind}: expected h0 of shape \({N}, {H}\), got \({N}, {H + 1}\)"
        ):
            layer(x, state=torch.randn(N, H + 1))
        with pytest.raises(
            ValueError, match=rf"{kind}: expected h0 of shape \({N}, {H}\), got \(1, {N}, {H}\)"
        ):
            layer(x, state=torch.randn(1, N, H))
        with pytest.raises(
            TypeError, match=rf"{kind}: expected h0 to be a torch.Tensor, got tuple"
        ):
            layer(x, state=(torch.randn(N, H),))


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_of_wrong_dtype_raises(kind):
    layer = KINDS[kind][0]()
    state = [s.double() for s in _flat(_state(kind))]
    state = tuple(state) if len(state) == 2 else state[0]
    with pytest.raises(TypeError, match=rf"{kind}: expected h0 with dtype torch.float32"):
        layer(torch.randn(T, N, D), state=state)


def test_constructor_rejects_bad_sizes():
    with pytest.raises(
        ValueError, match="SeqLSTM: expected input_size to be a positive int, got 0"
    ):
        SeqLSTM(0, H)
    with pytest.raises(
        ValueError, match="SeqLSTMP: expected output_size to be a positive int, got -1"
    ):
        SeqLSTMP(D, H, -1)
