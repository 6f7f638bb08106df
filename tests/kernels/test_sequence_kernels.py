"""The whole-sequence kernels against the step path (the slow path they replace) and gradcheck.

Every comparison is in float64: outputs, final states and every gradient, through
``Sequencer`` (which runs the kernel) and the same module stepped by hand (which does not).
"""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import GRU, LSTM, FastLSTM, Repeater, Sequencer
from rnnkit.kernels.gru import gru_sequence
from rnnkit.kernels.lstm import lstm_sequence
from rnnkit.recurrent.module_tree import sequence_window

T, N, D, H = 6, 3, 4, 5
TIGHT = dict(rtol=1e-10, atol=1e-12)

CELLS = {
    "FastLSTM": lambda **kw: FastLSTM(D, H, **kw),
    "LSTM": lambda **kw: LSTM(D, H, **kw),
    "GRU": lambda **kw: GRU(D, H, **kw),
    "GRU-reset-after": lambda **kw: GRU(D, H, reset_after=True, **kw),
    "GRU-dropout": lambda **kw: GRU(D, H, p=0.3, **kw),
    "GRU-dropout-mono": lambda **kw: GRU(D, H, p=0.3, mono=True, reset_after=True, **kw),
}


def stepped(module, x):
    """``module`` called once per step (the path without a kernel), inside one sequence window."""
    with sequence_window(module, x.size(0)):
        return torch.stack([module(x_t) for x_t in x.unbind(0)])


def both_paths(make, x, mask=False, seed=0):
    kernel = make().double()
    if mask:
        kernel.mask_zero(1)
    step = copy.deepcopy(kernel)
    assert kernel.sequence_kernel() is not None
    torch.manual_seed(seed)
    y_kernel = Sequencer(kernel)(x)
    torch.manual_seed(seed)
    y_step = stepped(step, x)
    return kernel, step, y_kernel, y_step


def grads(y, module, x):
    return torch.autograd.grad(y.pow(2).sum(), [x, *module.parameters()], retain_graph=True)


def random_input(zeros=False):
    x = torch.randn(T, N, D, dtype=torch.float64)
    if zeros:  # padded steps anywhere, as the original's tests (left, right, inside)
        x[0, 0] = 0
        x[2, 1] = 0
        x[3, 1] = 0
        x[T - 1, 2] = 0
    return x.requires_grad_()


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("mask", [False, True], ids=["dense", "masked"])
def test_kernel_equals_stepping(name, mask):
    x = random_input(zeros=mask)
    kernel, step, y_kernel, y_step = both_paths(CELLS[name], x, mask)
    assert_close(y_kernel, y_step, **TIGHT)
    for a, b in zip(grads(y_kernel, kernel, x), grads(y_step, step, x)):
        assert_close(a, b, **TIGHT)
    for a, b in zip(kernel.get_state() if name.find("LSTM") >= 0 else (kernel.get_state(),),
                    step.get_state() if name.find("LSTM") >= 0 else (step.get_state(),)):  # fmt: skip
        assert_close(a, b, **TIGHT)
    assert kernel.step == step.step == T + 1


@pytest.mark.parametrize("name", ["FastLSTM", "GRU-dropout"])
def test_rho_truncation_equals_stepping(name):
    x = random_input()
    kernel, step, y_kernel, y_step = both_paths(lambda: CELLS[name](rho=2), x)
    g_kernel, g_step = grads(y_kernel, kernel, x), grads(y_step, step, x)
    for a, b in zip(g_kernel, g_step):
        assert_close(a, b, **TIGHT)
    assert torch.count_nonzero(g_kernel[0][: T - 2]) == 0  # no gradient past rho


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_remember_carries_the_state_across_calls(name):
    kernel = CELLS[name]().double()
    step = copy.deepcopy(kernel)
    seq = Sequencer(kernel).remember("both")
    xs = [random_input() for _ in range(2)]
    outs = [seq(x) for x in xs]
    seq_step = Sequencer(step).remember("both")
    step.sequence_kernel = lambda: None  # this copy steps
    outs_step = [seq_step(x) for x in xs]
    for a, b in zip(outs, outs_step):
        assert_close(a, b, **TIGHT)


def test_list_input_gives_a_list_equal_to_the_tensor_path():
    lstm = FastLSTM(D, H).double()
    x = random_input()
    as_list = Sequencer(lstm)(list(x.unbind(0)))
    assert isinstance(as_list, list) and len(as_list) == T
    assert_close(torch.stack(as_list), Sequencer(lstm)(x), **TIGHT)


def test_dropout_masks_are_those_of_the_step_path_for_the_same_seed():
    gru = GRU(D, H, p=0.5).double()
    x = random_input()
    torch.manual_seed(7)
    a = Sequencer(gru)(x)
    gru.sequence_kernel = lambda: None
    torch.manual_seed(7)
    b = Sequencer(gru)(x)
    assert_close(a, b, **TIGHT)


def test_eval_keeps_no_graph_and_equals_training_forward():
    lstm = FastLSTM(D, H).double()
    x = torch.randn(T, N, D, dtype=torch.float64)
    train_out = Sequencer(lstm)(x)
    seq = Sequencer(lstm).eval()
    out = seq(x)
    assert out.grad_fn is None and not out.requires_grad
    assert lstm.get_state()[0].grad_fn is None
    assert_close(out, train_out, **TIGHT)


def test_eval_with_an_input_that_requires_grad_steps_and_gives_its_gradient():
    lstm = FastLSTM(D, H).double().eval()
    x = random_input()
    out = Sequencer(lstm)(x)
    assert out.requires_grad  # the step path: the gradient w.r.t. each step's input
    (g,) = torch.autograd.grad(out.sum(), x)
    assert g.shape == x.shape


def test_chain_of_row_wise_modules_and_kernels_equals_stepping():
    x = random_input()
    model = nn.Sequential(FastLSTM(D, H), nn.Tanh(), nn.Linear(H, 3), GRU(3, 4), nn.LogSoftmax(1))
    model = model.double()
    seq = Sequencer(model)
    assert seq.module.sequence_kernel() is not None
    twin = copy.deepcopy(seq)
    twin.module.sequence_kernel = lambda: None
    y, y_step = seq(x), twin(x)
    assert_close(y, y_step, **TIGHT)
    for a, b in zip(grads(y, seq, x), grads(y_step, twin, x)):
        assert_close(a, b, **TIGHT)


def test_chain_with_dropout_in_training_steps():
    seq = Sequencer(nn.Sequential(FastLSTM(D, H), nn.Dropout(0.5), nn.Linear(H, 3)))
    assert seq.module.sequence_kernel() is None  # one mask per step, as the step path draws
    seq.eval()
    assert seq.module.sequence_kernel() is not None


def test_repeater_runs_the_kernel_and_equals_stepping():
    x0 = torch.randn(N, D, dtype=torch.float64, requires_grad=True)
    rep = Repeater(FastLSTM(D, H), 4).double()
    y = rep(x0)
    lstm = copy.deepcopy(rep.module)
    lstm.forget()
    y_step = stepped(lstm, x0.unsqueeze(0).expand(4, N, D))
    assert_close(y, y_step, **TIGHT)
    (g,) = torch.autograd.grad(y.pow(2).sum(), x0, retain_graph=True)
    (g_step,) = torch.autograd.grad(y_step.pow(2).sum(), x0)
    assert_close(g, g_step, **TIGHT)


def _lstm_args(peephole):
    shapes = [(T, N, D), (N, H), (N, H), (4 * H, D), (4 * H, H), (4 * H,)]
    shapes += [(H,)] * 3 if peephole else []
    return [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]


@pytest.mark.parametrize("peephole", [False, True], ids=["fast", "peephole"])
@pytest.mark.parametrize("valid", [None, "random"])
def test_gradcheck_lstm_kernel(peephole, valid):
    torch.manual_seed(1)
    mask = None if valid is None else torch.rand(T, N) > 0.3
    args = _lstm_args(peephole)

    def f(*a):
        return lstm_sequence(*a[:6], tuple(a[6:]) if peephole else None, mask)

    assert torch.autograd.gradcheck(f, args)


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_gradcheck_gru_kernel(reset_after, dropout):
    torch.manual_seed(2)
    shapes = [(T, N, D), (N, H), (3 * H, D), (3 * H, H), (3 * H,), (3 * H,)]
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    x_mask = torch.rand(3, N, D, dtype=torch.float64) * 2 if dropout else None
    h_mask = torch.rand(3, 1, H, dtype=torch.float64) * 2 if dropout else None
    valid = torch.rand(T, N) > 0.3

    def f(*a):
        return gru_sequence(*a, reset_after=reset_after, x_mask=x_mask, h_mask=h_mask, valid=valid)

    assert torch.autograd.gradcheck(f, args)


@pytest.mark.parametrize("peephole", [False, True], ids=["fast", "peephole"])
def test_inference_path_equals_the_training_forward(peephole, monkeypatch):
    monkeypatch.setattr("rnnkit.kernels.lstm.INFERENCE_CHUNK", 4)  # several chunks
    args = _lstm_args(peephole)
    valid = torch.rand(T, N) > 0.3
    train = lstm_sequence(*args[:6], tuple(args[6:]) if peephole else None, valid)
    with torch.no_grad():
        infer = lstm_sequence(*args[:6], tuple(args[6:]) if peephole else None, valid)
    for a, b in zip(train, infer):
        assert_close(a, b, **TIGHT)


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_inference_path_equals_the_training_forward(reset_after, monkeypatch):
    monkeypatch.setattr("rnnkit.kernels.gru.INFERENCE_CHUNK", 4)
    shapes = [(T, N, D), (N, H), (3 * H, D), (3 * H, H), (3 * H,), (3 * H,)]
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    masks = dict(x_mask=torch.rand(3, N, D, dtype=torch.float64), valid=torch.rand(T, N) > 0.3)
    train = gru_sequence(*args, reset_after=reset_after, **masks)
    with torch.no_grad():
        infer = gru_sequence(*args, reset_after=reset_after, **masks)
    for a, b in zip(train, infer):
        assert_close(a, b, **TIGHT)


def test_trim_zero_runs_the_kernel_with_the_results_of_mask_zero():
    x = random_input(zeros=True)
    gru = GRU(D, H).double()
    masked = Sequencer(copy.deepcopy(gru).mask_zero(1))(x)
    trimmed = Sequencer(gru.trim_zero(1))(x)
    assert_close(trimmed, masked, **TIGHT)


class _PeepholeCell(nn.Module):
    """A user's LSTM cell returning ``(h, c)``: nested output through the generic kernel."""

    def __init__(self):
        super().__init__()
        self.ih, self.hh = nn.Linear(D, 4 * H), nn.Linear(H, 4 * H, bias=False)
        self.peep = nn.Parameter(torch.randn(3, H) * 0.1)

    def forward(self, x, state):
        h, c = state
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        i, f = torch.sigmoid(i + self.peep[0] * c), torch.sigmoid(f + self.peep[1] * c)
        c = f * c + i * torch.tanh(g)
        return torch.sigmoid(o + self.peep[2] * c) * torch.tanh(c), c


def test_recurrence_with_a_nested_output_runs_its_kernel_and_equals_stepping():
    from rnnkit import Recurrence

    cell = Recurrence(_PeepholeCell(), ((H,), (H,)), 1).double()
    assert cell.sequence_kernel() is not None
    twin = copy.deepcopy(cell)
    twin.sequence_kernel = lambda: None
    x = random_input()
    out, out_step = Sequencer(cell)(x), Sequencer(twin)(x)
    assert isinstance(out, list) and len(out) == T and isinstance(out[0], tuple)

    def loss(outputs):
        return sum(h.pow(2).sum() + c.sum() for h, c in outputs)

    for (h, c), (h2, c2) in zip(out, out_step):
        assert_close(h, h2, **TIGHT)
        assert_close(c, c2, **TIGHT)
    g = torch.autograd.grad(loss(out), [x, *cell.parameters()])
    g_step = torch.autograd.grad(loss(out_step), [x, *twin.parameters()])
    for a, b in zip(g, g_step):
        assert_close(a, b, **TIGHT)
