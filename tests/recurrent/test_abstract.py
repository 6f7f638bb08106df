"""The state mechanism shared by every step module: rho, forget, get/set_state, eval memory."""

import copy
import weakref

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import GRU, LSTM, FastLSTM, MuFuRu, Recursor, Sequencer

N, D, H = 2, 3, 4


def _no_grad_if(flag):
    return torch.no_grad() if flag else torch.enable_grad()


def _grads(module):
    return {n: p.grad.clone() if p.grad is not None else None for n, p in module.named_parameters()}


def _assert_grads_close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] is not None and b[k] is not None, k
        assert_close(a[k], b[k], msg=k)


def _zero_or_none(g):
    return g is None or torch.count_nonzero(g) == 0


# ---------------------------------------------------------------- rho
def _hand_stepped(lstm, xs):
    lstm.forget()
    outs = [lstm(x) for x in xs]
    torch.stack(outs).sum().backward()


def test_rho_hand_stepped_cuts_input_gradients():
    lstm = FastLSTM(D, H, rho=3)
    xs = [torch.randn(N, D, requires_grad=True) for _ in range(5)]
    _hand_stepped(lstm, xs)
    assert _zero_or_none(xs[0].grad)
    assert _zero_or_none(xs[1].grad)
    for x in xs[2:]:
        assert x.grad is not None and torch.count_nonzero(x.grad) > 0


def test_rho_hand_stepped_parameter_gradients_equal_no_grad_prefix():
    lstm = FastLSTM(D, H, rho=3)
    ref = copy.deepcopy(lstm)
    ref.rho = 9999
    full = copy.deepcopy(ref)
    xs = [torch.randn(N, D) for _ in range(5)]
    _hand_stepped(lstm, xs)

    ref.forget()
    outs = []
    for t, x in enumerate(xs):
        with _no_grad_if(t < 2):
            outs.append(ref(x))
    torch.stack(outs).sum().backward()
    _assert_grads_close(_grads(lstm), _grads(ref))

    # and the untruncated gradient is different (so the comparison above means something)
    _hand_stepped(full, xs)
    assert not torch.allclose(full.weight_hh.grad, lstm.weight_hh.grad)


def test_rho_sequencer_equals_hand_stepped():
    lstm = FastLSTM(D, H, rho=3)
    twin = copy.deepcopy(lstm)
    x = torch.randn(5, N, D, requires_grad=True)
    out = Sequencer(lstm)(x)
    out.sum().backward()

    xs = [x.detach()[t].clone().requires_grad_() for t in range(5)]
    _hand_stepped(twin, xs)
    _assert_grads_close(_grads(lstm), _grads(twin))
    for t in range(5):
        g = xs[t].grad if xs[t].grad is not None else torch.zeros(N, D)
        assert_close(x.grad[t], g)
    assert torch.count_nonzero(x.grad[:2]) == 0
    assert torch.count_nonzero(x.grad[2]) > 0


def test_rho_longer_than_sequence_is_full_bptt():
    a = FastLSTM(D, H, rho=5)
    b = copy.deepcopy(a)
    b.rho = 9999
    x = torch.randn(5, N, D)
    Sequencer(a)(x).sum().backward()
    Sequencer(b)(x).sum().backward()
    _assert_grads_close(_grads(a), _grads(b))


def test_nested_step_modules_each_honour_their_own_rho():
    T = 6
    model = nn.Sequential(FastLSTM(D, H, rho=2), nn.Linear(H, H), GRU(H, H, rho=4))
    ref = copy.deepcopy(model)
    for m in (ref[0], ref[2]):
        m.rho = 9999
    x = torch.randn(T, N, D, requires_grad=True)
    Sequencer(model)(x).sum().backward()

    xr = x.detach().clone().requires_grad_()
    outs = []
    for t in range(T):
        with _no_grad_if(t < T - 2):
            a = ref[0](xr[t])
        b = ref[1](a)
        with _no_grad_if(t < T - 4):
            outs.append(ref[2](b))
    torch.stack(outs).sum().backward()

    _assert_grads_close(_grads(model), _grads(ref))
    assert_close(x.grad, xr.grad)
    assert torch.count_nonzero(x.grad[: T - 2]) == 0
    assert torch.count_nonzero(x.grad[T - 2 :]) > 0


def test_rho_bounds_the_training_graph_in_a_sequencer():
    T, rho = 200, 5
    xs = [torch.randn(N, D, requires_grad=True) for _ in range(T)]
    outs = Sequencer(FastLSTM(D, H, rho=rho))(xs)
    for o in outs[: T - rho]:
        assert not o.requires_grad and o.grad_fn is None
    for o in outs[T - rho :]:
        assert o.grad_fn is not None
    outs[T - rho].sum().backward()
    assert all(x.grad is None for x in xs[: T - rho])
    assert xs[T - rho].grad is not None


def test_rho_counts_from_the_last_forget():
    lstm = FastLSTM(D, H, rho=2)
    for _ in range(4):
        lstm(torch.randn(N, D))
    lstm.forget()
    xs = [torch.randn(N, D, requires_grad=True) for _ in range(2)]
    sum(lstm(x).sum() for x in xs).backward()
    assert all(torch.count_nonzero(x.grad) > 0 for x in xs)


# ---------------------------------------------------------------- forget / step counter
def test_forget_resets_state_and_step():
    lstm = FastLSTM(D, H)
    assert lstm.step == 1 and lstm.get_state() is None
    x = torch.randn(N, D)
    first = lstm(x)
    lstm(x)
    assert lstm.step == 3 and lstm.get_state() is not None
    lstm.forget()
    assert lstm.step == 1 and lstm.get_state() is None
    assert_close(lstm(x), first)


def test_forget_reaches_nested_step_modules():
    inner = FastLSTM(D, H)
    rec = Recursor(nn.Sequential(nn.Linear(D, D), inner))
    rec(torch.randn(N, D))
    assert inner.get_state() is not None and inner.step == 2
    rec.forget()
    assert inner.get_state() is None and inner.step == 1


# ---------------------------------------------------------------- get_state / set_state
def test_get_state_is_the_next_starting_state():
    lstm = FastLSTM(D, H)
    out = lstm(torch.randn(N, D))
    h, c = lstm.get_state()
    assert_close(h, out)
    assert c.shape == (N, H)
    x = torch.randn(N, D)
    other = FastLSTM(D, H)
    other.load_state_dict(lstm.state_dict())
    other.set_state((h.detach(), c.detach()))
    assert_close(other(x), lstm(x))


def test_set_state_starts_a_decoder_inside_a_sequencer_and_gradient_reaches_encoder():
    enc, dec = FastLSTM(D, H), FastLSTM(2, H)
    twin, zero = copy.deepcopy(dec), copy.deepcopy(dec)
    x = torch.randn(4, N, D, requires_grad=True)
    y = torch.randn(3, N, 2)
    Sequencer(enc)(x)
    state = enc.get_state()
    assert state[0].grad_fn is not None
    dec.set_state(state)
    decoder = Sequencer(dec)
    out = decoder(y)

    twin.set_state(tuple(s.detach() for s in state))
    assert_close(out, torch.stack([twin(y[t]) for t in range(3)]))
    zero_start = Sequencer(zero)(y)
    assert not torch.allclose(out, zero_start)

    out.sum().backward()
    assert x.grad is not None and torch.count_nonzero(x.grad) > 0
    assert enc.weight_ih.grad is not None

    # the given state is used once: the next call starts from zero again
    assert_close(decoder(y), zero_start)


def test_two_instances_do_not_share_state():
    a, b = FastLSTM(D, H), FastLSTM(D, H)
    b.load_state_dict(a.state_dict())
    x = torch.randn(N, D)
    a(torch.randn(N, D))
    assert b.get_state() is None
    assert not torch.allclose(a(x), b(x))


def test_recursor_state_delegates_to_the_nested_module():
    inner = FastLSTM(D, H)
    rec = Recursor(nn.Sequential(nn.Linear(D, D), inner))
    assert rec.get_state() is None
    rec(torch.randn(N, D))
    assert rec.get_state() is inner.get_state()
    new = (torch.zeros(N, H), torch.ones(N, H))
    rec.set_state(new)
    assert inner.get_state() is new


def test_recursor_state_with_two_nested_modules():
    a, b = FastLSTM(D, H), GRU(H, H)
    rec = Recursor(nn.Sequential(a, b))
    rec(torch.randn(N, D))
    sa, sb = rec.get_state()
    assert sa is a.get_state() and sb is b.get_state()
    rec.set_state(((torch.zeros(N, H), torch.zeros(N, H)), torch.ones(N, H)))
    assert_close(b.get_state(), torch.ones(N, H))


def test_to_float64_moves_the_carried_state():
    lstm = FastLSTM(D, H)
    lstm(torch.randn(N, D))
    lstm.to(torch.float64)
    h, c = lstm.get_state()
    assert h.dtype == torch.float64 and c.dtype == torch.float64
    assert lstm(torch.randn(N, D, dtype=torch.float64)).dtype == torch.float64


def test_to_float64_moves_the_state_of_a_remembering_sequencer():
    seq = Sequencer(nn.Sequential(FastLSTM(D, H), GRU(H, H))).remember("both")
    seq(torch.randn(2, N, D))
    seq.double()
    assert seq.module.module[1].get_state().dtype == torch.float64
    assert seq(torch.randn(2, N, D, dtype=torch.float64)).dtype == torch.float64


def test_deepcopy_after_a_training_step():
    seq = Sequencer(nn.Sequential(FastLSTM(D, H), nn.Linear(H, 2)))
    x = torch.randn(3, N, D)
    seq(x).sum().backward()
    clone = copy.deepcopy(seq)  # e.g. keeping the best model during training
    assert_close(clone(x), seq(x))


# ---------------------------------------------------------------- eval: constant memory
def _count_graph_nodes(t):
    seen, stack = set(), [t.grad_fn]
    while stack:
        f = stack.pop()
        if f is None or f in seen:
            continue
        seen.add(f)
        stack.extend(g for g, _ in f.next_functions)
    return len(seen)


STEP_MODULES = {
    "FastLSTM": lambda: FastLSTM(D, H),
    "LSTM": lambda: LSTM(D, H),
    "GRU": lambda: GRU(D, H, p=0.3),
    "MuFuRu": lambda: MuFuRu(D, H),
}


@pytest.mark.parametrize("name", STEP_MODULES)
def test_eval_state_has_no_graph(name):
    m = STEP_MODULES[name]().eval()
    for _ in range(3):
        out = m(torch.randn(N, D, requires_grad=True))
        assert out.grad_fn is not None  # grad is enabled: the output itself is differentiable
        for s in (m.get_state(),) if isinstance(m.get_state(), torch.Tensor) else m.get_state():
            assert s.grad_fn is None and not s.requires_grad


def test_eval_memory_is_constant_in_the_number_of_steps():
    lstm = FastLSTM(D, H).eval()
    x = torch.randn(N, D)
    sizes, alive = [], []
    for n_steps in (100, 10_000):
        lstm.forget()
        for i in range(n_steps):
            out = lstm(x)
            if i == 1:
                early = weakref.ref(lstm.get_state()[0])
        sizes.append(_count_graph_nodes(out))
        alive.append(early() is not None)
    assert sizes[0] == sizes[1]
    assert alive == [False, False]

    # in training the graph grows with the steps (so the measure above can see growth)
    lstm.train()
    lstm.forget()
    for _ in range(20):
        out = lstm(x)
    assert _count_graph_nodes(out) > 10 * sizes[0]


def test_eval_outputs_are_distinct_tensors():
    lstm = FastLSTM(D, H).eval()
    outs, copies = [], []
    for _ in range(3):
        outs.append(lstm(torch.randn(N, D)))
        copies.append(outs[-1].clone())
    assert len({o.data_ptr() for o in outs}) == 3
    for o, c in zip(outs, copies):
        assert_close(o, c, rtol=0, atol=0)


@pytest.mark.parametrize("name", STEP_MODULES)
def test_eval_forward_equals_train_forward(name):
    m = STEP_MODULES[name]()
    if name == "GRU":
        m.p = 0.0
    xs = torch.randn(4, N, D)
    train_out = Sequencer(m)(xs)
    m.eval()
    m.forget()
    eval_out = torch.stack([m(x) for x in xs])
    assert_close(eval_out, train_out)
