"""Issue 15 item 2: any Recurrence cell (and Recurrent's linear case) through hoisted and
deferred nn.Linear maps, against the step path of the same module, in float64."""

import gc

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck
from torch.testing import assert_close

import rnnkit
from rnnkit.kernels.deferred import DeferredLinear, HoistedLinear
from rnnkit.kernels.intercept import interceptable_linears

from .kernel_twins import assert_same_run, padded_steps, run_calls, twins

T, N, D, H = 6, 4, 5, 3


class PeepholeCell(nn.Module):
    """A hand-written peephole LSTM; the state is ``[h, c]`` as one ``(N, 2H)``."""

    def __init__(self):
        super().__init__()
        self.ih = nn.Linear(D, 4 * H)
        self.hh = nn.Linear(H, 4 * H, bias=False)
        self.w_ci, self.w_cf, self.w_co = (nn.Parameter(torch.randn(H)) for _ in range(3))

    def forward(self, x, hc):
        h, c = hc.split(H, 1)
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        i = torch.sigmoid(i + self.w_ci * c)
        f = torch.sigmoid(f + self.w_cf * c)
        c = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + self.w_co * c)
        return torch.cat((o * torch.tanh(c), c), 1)


class GRULikeCell(nn.Module):
    """Gates from a ParallelTable of two Linears; the candidate's recurrent map used twice."""

    def __init__(self):
        super().__init__()
        self.gates = rnnkit.ParallelTable(
            nn.Linear(D, 2 * H), nn.Linear(H, 2 * H), merge=rnnkit.CAddTable()
        )
        self.cand_x = nn.Linear(D, H)
        self.cand_h = nn.Linear(H, H)

    def forward(self, x, h):
        z, r = torch.sigmoid(self.gates(x, h)).chunk(2, 1)
        n = torch.tanh(self.cand_x(x) + self.cand_h(r * h) + 0.5 * self.cand_h(h))
        return (1 - z) * n + z * h


class NestedCell(nn.Module):
    """Nested tuples inside the step; one Linear on x, on tanh(x) (deferred); dropout."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(H, H)  # D == H here: applied to x and to y
        self.inner = nn.Sequential(nn.Linear(H, H), nn.Dropout(0.3), nn.ReLU(inplace=True))

    def forward(self, x, y):
        (a, b), (c,) = (self.shared(x), self.shared(torch.tanh(x))), (self.inner(y),)
        return torch.tanh(a * b + c)


def _rec(cell, size=H, **kw):
    torch.manual_seed(0)
    return rnnkit.Recurrence(cell, size, 1, **kw).double()


CELLS = {
    "peephole": lambda **kw: _rec(PeepholeCell(), 2 * H, **kw),
    "gru_like": lambda **kw: _rec(GRULikeCell(), **kw),
    "nested": lambda **kw: rnnkit.Recurrence(NestedCell(), H, 1, **kw).double(),
}


def _input(dim=D, steps=T):
    return torch.randn(steps, N, dim, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_matches_stepping(name):
    fast, slow, calls = twins(CELLS[name]())
    dim = H if name == "nested" else D
    assert_same_run(fast, slow, [_input(dim)], calls=calls)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_rho_remember_and_list_input(name):
    dim = H if name == "nested" else D
    for remember in ("both", "neither"):
        fast, slow, calls = twins(CELLS[name](rho=2))
        xs = [_input(dim), list(_input(dim, 4).detach().unbind(0))]
        assert_same_run(fast, slow, xs, remember=remember, calls=calls)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_mask_zero_anywhere(name):
    dim = H if name == "nested" else D
    fast, slow, calls = twins(CELLS[name]().mask_zero(1))
    x = padded_steps(T, N, dim).requires_grad_()
    assert_same_run(fast, slow, [x], calls=calls)


def test_backward_twice_input_only_and_never():
    fast, slow, _ = twins(CELLS["peephole"]())
    grads = {}
    first, second = _input().detach(), _input().detach()
    for module in (fast, slow):
        seq = rnnkit.Sequencer(module)
        seq(first)  # no backward at all
        x = second.clone().requires_grad_()
        loss = seq(x).square().sum()
        (gx,) = torch.autograd.grad(loss, x, retain_graph=True)  # never reaches the weights
        loss.backward(retain_graph=True)
        loss.backward()  # twice: accumulates like the step path
        grads[module] = [gx, *(p.grad for p in module.parameters())]
    for a, b in zip(grads[fast], grads[slow]):
        assert_close(a, b, rtol=0, atol=1e-12)


def test_eval_without_grad_in_chunks_matches():
    fast, slow, calls = twins(CELLS["gru_like"]().eval())
    x = _input(steps=150).detach()
    (out_f,), _ = run_calls(fast, [x], backward=False)
    (out_s,), _ = run_calls(slow, [x], backward=False)
    assert_close(out_f, out_s, rtol=0, atol=1e-12)
    assert all(calls) and not out_f.requires_grad


# ------------------------------------------------------------------ refusals and fallbacks
class InPlaceCell(nn.Module):
    """Modifies its step input in place before the Linear: that call must not be hoisted."""

    def __init__(self):
        super().__init__()
        self.lx, self.ly = nn.Linear(D, H), nn.Linear(H, H)

    def forward(self, x, y):
        a = self.lx(x)  # hoisted
        x.mul_(2)
        return torch.tanh(a + self.lx(x) + self.ly(y))  # the second lx(x): deferred


class MyLinear(nn.Linear):
    pass


def test_in_place_change_of_the_input_falls_back_to_deferred():
    # Forward only: the in-place change invalidates what the first lx(x) saved, so backward
    # raises on the step path too (autograd's version check), and does here.
    fast, slow, calls = twins(_rec(InPlaceCell()))
    x = torch.randn(T, N, D, dtype=torch.float64)
    (out_f,), _ = run_calls(fast, [x.clone()], backward=False)
    (out_s,), _ = run_calls(slow, [x.clone()], backward=False)
    assert_close(out_f, out_s, rtol=0, atol=1e-12)
    assert calls == [True]
    with pytest.raises(RuntimeError, match="inplace"):
        out_f.sum().backward()


def test_hooked_linear_subclass_and_functional_are_left_alone():
    cell = GRULikeCell()
    hooked = cell.cand_x
    seen = []
    hooked.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    cell.cand_h = MyLinear(H, H)
    fast, slow, calls = twins(_rec(cell))
    linears = interceptable_linears(fast.module)
    assert all(type(m) is nn.Linear for m in linears) and len(linears) == 2
    assert_same_run(fast, slow, [_input()], calls=calls)
    assert len(seen) == 2 * T  # the hook ran at every step of both runs


def test_global_hook_and_nothing_to_intercept_step():
    handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
    try:
        assert CELLS["peephole"]().sequence_kernel() is None
    finally:
        handle.remove()
    assert rnnkit.Recurrence(nn.Tanh(), H, 1).sequence_kernel() is None  # no Linear
    nested = rnnkit.Recurrence(nn.LSTMCell(D, H), ((H,), (H,)), 1)  # a nested output
    assert nested.sequence_kernel() is None
    inner = rnnkit.Recurrence(nn.Sequential(rnnkit.FastLSTM(D, H)), H, 1)  # a nested step module
    assert inner.sequence_kernel() is None
    assert CELLS["gru_like"]().trim_zero(1).sequence_kernel() is None


# ------------------------------------------------------------------ Recurrent, linear case
def _recurrent(**kw):
    torch.manual_seed(0)
    return rnnkit.Recurrent(H, nn.Linear(D, H), nn.Linear(H, H), nn.Tanh, **kw).double()


def test_recurrent_linear_case():
    for remember in ("both", "neither"):
        fast, slow, calls = twins(_recurrent(rho=3))
        xs = [_input(), list(_input(steps=3).detach().unbind(0))]
        assert_same_run(fast, slow, xs, remember=remember, calls=calls)
    other = rnnkit.Recurrent(H, nn.Linear(D, H), nn.Sequential(nn.Linear(H, H)), nn.Tanh)
    assert other.sequence_kernel() is None


# ------------------------------------------------------------------ the maps themselves
def test_gradcheck_deferred_and_hoisted():
    x = torch.randn(3, 2, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, H, dtype=torch.float64, requires_grad=True)
    w_x = torch.randn(H, D, dtype=torch.float64, requires_grad=True)
    w_h = torch.randn(2 * H, H, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2 * H, dtype=torch.float64, requires_grad=True)

    def steps(x, h, w_x, w_h, b):
        hoisted, deferred = HoistedLinear(x, w_x), DeferredLinear(w_h, b, split=(H, H))
        outs = []
        for t in range(x.size(0)):
            u, v = deferred(h)
            h = torch.tanh(hoisted[t] + u * deferred(h * 2)[1] + v)
            outs.append(h)
        return torch.stack(outs)

    assert gradcheck(steps, (x, h0, w_x, w_h, b))


def test_deferred_records_nothing_without_grad():
    w = torch.randn(H, H, dtype=torch.float64, requires_grad=True)
    deferred = DeferredLinear(w)
    with torch.no_grad():
        deferred(torch.randn(N, H, dtype=torch.float64))
    assert deferred.tape.records == []


def test_no_reference_cycle_through_the_graph():
    # A tape holding the steps' inputs from forward on would tie the graph into a cycle that
    # Python's collector cannot free (a leak of every call's graph): freed by refcount alone.
    from rnnkit.kernels.deferred import _Tape

    def tapes():
        return sum(1 for o in gc.get_objects() if type(o) is _Tape)

    gc.collect()
    before = tapes()
    gc.disable()
    try:
        module = CELLS["gru_like"]()
        seq = rnnkit.Sequencer(module)
        seq(_input()).sum().backward()
        out = seq(_input())  # a graph never used
        assert tapes() > before
        del out
        module.forget()  # (the module itself is not freed by refcount alone, so drop its state)
        assert tapes() == before
    finally:
        gc.enable()
