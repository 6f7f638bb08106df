"""Sequencer: list/tensor I/O, batch_first, equivalence with stepping by hand, Recursor wrapping."""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import GRU, LSTM, FastLSTM, Recursor, Sequencer

T, N, D, H = 5, 3, 4, 6


def _grads(module):
    return [p.grad.clone() for p in module.parameters()]


def _zero(module):
    for p in module.parameters():
        p.grad = None


def test_tensor_in_gives_tensor_out():
    out = Sequencer(FastLSTM(D, H))(torch.randn(T, N, D))
    assert isinstance(out, torch.Tensor)
    assert out.shape == (T, N, H)


@pytest.mark.parametrize("kind", [list, tuple])
def test_list_in_gives_list_out(kind):
    x = kind(torch.randn(N, D) for _ in range(T))
    out = Sequencer(FastLSTM(D, H))(x)
    assert isinstance(out, list)
    assert len(out) == T
    assert all(isinstance(o, torch.Tensor) and o.shape == (N, H) for o in out)


def test_list_input_equals_tensor_input_outputs_and_gradients():
    seq = Sequencer(nn.Sequential(FastLSTM(D, H), nn.Linear(H, 2)))
    w = torch.randn(T, N, 2)
    x = torch.randn(T, N, D, requires_grad=True)
    out = seq(x)
    (out * w).sum().backward()
    grad_params = _grads(seq)
    _zero(seq)

    xs = [x.detach()[t].clone().requires_grad_() for t in range(T)]
    outs = seq(xs)
    sum((o * w[t]).sum() for t, o in enumerate(outs)).backward()

    assert_close(torch.stack(outs), out)
    assert_close(torch.stack([xt.grad for xt in xs]), x.grad)
    for a, b in zip(grad_params, _grads(seq)):
        assert_close(a, b)


def test_batch_first_equals_transposed_time_major():
    lstm = FastLSTM(D, H)
    x = torch.randn(T, N, D, requires_grad=True)
    ref = Sequencer(lstm)(x)
    ref.sum().backward()
    ref_grad = x.grad.clone()

    xb = x.detach().transpose(0, 1).contiguous().requires_grad_()
    out = Sequencer(lstm, batch_first=True)(xb)
    assert out.shape == (N, T, H)
    assert_close(out, ref.transpose(0, 1))
    out.sum().backward()
    assert_close(xb.grad, ref_grad.transpose(0, 1))


def test_batch_first_list_input_is_unaffected():
    # A list is always a list of T steps of shape (N, *), whatever batch_first says.
    lstm = FastLSTM(D, H)
    xs = [torch.randn(N, D) for _ in range(T)]
    a = Sequencer(lstm)(xs)
    b = Sequencer(lstm, batch_first=True)(xs)
    for u, v in zip(a, b):
        assert_close(u, v)


@pytest.mark.parametrize("make", [lambda: FastLSTM(D, H), lambda: LSTM(D, H), lambda: GRU(D, H)])
def test_sequencer_equals_stepping_by_hand(make):
    module = make()
    x = torch.randn(T, N, D, requires_grad=True)
    out = Sequencer(module)(x)
    out.pow(2).sum().backward()
    g_seq, gx_seq = _grads(module), x.grad.clone()
    _zero(module)
    x.grad = None

    module.forget()
    by_hand = torch.stack([module(x[t]) for t in range(T)])
    by_hand.pow(2).sum().backward()
    assert_close(out, by_hand)
    assert_close(x.grad, gx_seq)
    for a, b in zip(g_seq, _grads(module)):
        assert_close(a, b)


def test_non_recurrent_module_is_wrapped_in_recursor():
    lin = nn.Linear(D, H)
    seq = Sequencer(lin)
    assert isinstance(seq.module, Recursor)
    assert seq.module.module is lin
    x = torch.randn(T, N, D)
    assert_close(seq(x), torch.stack([lin(x[t]) for t in range(T)]))


def test_step_module_is_not_rewrapped():
    lstm = FastLSTM(D, H)
    assert Sequencer(lstm).module is lstm


def test_mixed_sequential_equals_stepping_layers_by_hand():
    model = nn.Sequential(FastLSTM(D, H), nn.Linear(H, 5), GRU(5, 3), nn.Tanh())
    ref = copy.deepcopy(model)
    x = torch.randn(T, N, D, requires_grad=True)
    out = Sequencer(model)(x)
    assert out.shape == (T, N, 3)
    out.pow(2).sum().backward()

    xr = x.detach().clone().requires_grad_()
    lstm, lin, gru, tanh = ref
    outs = []
    for t in range(T):
        outs.append(tanh(gru(lin(lstm(xr[t])))))
    by_hand = torch.stack(outs)
    by_hand.pow(2).sum().backward()

    assert_close(out, by_hand)
    assert_close(x.grad, xr.grad)
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        assert_close(p.grad, q.grad, msg=name)


def test_mixed_sequential_state_is_carried_in_each_layer():
    # The second step of each recurrent layer must depend on the first: feeding the same
    # input twice gives two different outputs.
    model = nn.Sequential(FastLSTM(D, H), nn.Linear(H, 5), GRU(5, 3), nn.Tanh())
    x = torch.randn(N, D)
    out = Sequencer(model)(torch.stack([x, x]))
    assert not torch.allclose(out[0], out[1])


class _Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(D, H)

    def forward(self, x):
        y = self.lin(x)
        return y, 2 * y


def test_tuple_step_outputs_give_a_list_for_tensor_input():
    seq = Sequencer(_Pair())
    x = torch.randn(T, N, D)
    out = seq(x)
    assert isinstance(out, list)
    assert len(out) == T
    for t, (a, b) in enumerate(out):
        assert_close(a, seq.module.module.lin(x[t]))
        assert_close(b, 2 * a)


def test_tuple_step_inputs_in_a_list():
    class Add(nn.Module):
        def forward(self, pair):
            return pair[0] + pair[1]

    xs = [(torch.randn(N, D), torch.randn(N, D)) for _ in range(T)]
    out = Sequencer(Add())(xs)
    assert isinstance(out, list)
    for (a, b), o in zip(xs, out):
        assert_close(o, a + b)


def test_input_is_not_modified():
    seq = Sequencer(nn.Sequential(FastLSTM(D, H), nn.Linear(H, H), nn.ReLU(), GRU(H, H)))
    x = torch.randn(T, N, D, requires_grad=True)
    before = x.detach().clone()
    seq(x).sum().backward()
    assert_close(x.detach(), before, rtol=0, atol=0)

    xs = [torch.randn(N, D) for _ in range(T)]
    ids = [id(t) for t in xs]
    copies = [t.clone() for t in xs]
    seq(xs)
    assert [id(t) for t in xs] == ids
    for a, b in zip(xs, copies):
        assert_close(a, b, rtol=0, atol=0)


def test_each_call_starts_from_zero_by_default():
    seq = Sequencer(FastLSTM(D, H))
    x = torch.randn(T, N, D)
    first = seq(x)
    assert_close(seq(x), first)
    # ... which is not the result of continuing from the previous state
    seq.module.forget()
    seq.module(x[0])
    assert not torch.allclose(seq.module(x[0]), first[0])


def test_float64_sequence(float64):
    seq = Sequencer(nn.Sequential(FastLSTM(D, H), nn.Linear(H, 2)))
    out = seq(torch.randn(T, N, D))
    assert out.dtype == torch.float64
