"""torch.compile and torch.export of the sequence layers, as docs/export.md states them.

Compile: the fused kernels are a graph break (``torch.compiler.disable``), so the compiled
module gives eager's outputs and gradients (every registry entry: tests/test_registry_compile.py).
Export: the time loop is traced once as torch's ``scan`` (rnnkit/kernels/scan.py), so the
exported program takes any sequence length and batch size; the step equations it scans are
checked against the kernels in float64, gradients included.
"""

import pytest
import torch
from torch import nn
from torch.export import Dim

import rnnkit
from rnnkit.kernels.scan import scan_steps


class PeepholeCell(nn.Module):
    """A user's cell for ``Recurrence``: ``y = tanh(W_x x + W_y y_prev)``."""

    def __init__(self) -> None:
        super().__init__()
        self.x, self.y = nn.Linear(4, 6), nn.Linear(6, 6, bias=False)

    def forward(self, x, y_prev):
        return torch.tanh(self.x(x) + self.y(y_prev))


FACTORIES = {
    "SeqLSTM": lambda: rnnkit.SeqLSTM(4, 6),
    "SeqLSTM-maskzero": lambda: rnnkit.SeqLSTM(4, 6, maskzero=True),
    "SeqLSTMP": lambda: rnnkit.SeqLSTMP(4, 6, 3),
    "SeqGRU": lambda: rnnkit.SeqGRU(4, 6),
    "SeqGRU-maskzero": lambda: rnnkit.SeqGRU(4, 6, maskzero=True),
    "SeqRNN": lambda: rnnkit.SeqRNN(4, 6),
    "Sequencer(FastLSTM)": lambda: rnnkit.Sequencer(rnnkit.FastLSTM(4, 6)),
    "Sequencer(FastLSTM-batchnorm)": lambda: rnnkit.Sequencer(rnnkit.FastLSTM(4, 6, batchnorm=True)),
    "Sequencer(FastLSTM-mask_zero)": lambda: rnnkit.Sequencer(rnnkit.FastLSTM(4, 6).mask_zero(1)),
    "Sequencer(LSTM)": lambda: rnnkit.Sequencer(rnnkit.LSTM(4, 6)),
    "Sequencer(GRU)": lambda: rnnkit.Sequencer(rnnkit.GRU(4, 6, p=0.25)),
    "Sequencer(GRU-trim_zero)": lambda: rnnkit.Sequencer(rnnkit.GRU(4, 6).trim_zero(1)),
    "Sequencer(MuFuRu)": lambda: rnnkit.Sequencer(rnnkit.MuFuRu(4, 6)),
    "Sequencer(Recurrence)": lambda: rnnkit.Sequencer(rnnkit.Recurrence(PeepholeCell(), 6, 1)),
}  # fmt: skip
DYNAMIC = ({0: Dim("T", min=1, max=10_000), 1: Dim("N", min=1, max=10_000)},)


def _padded(T, N):
    """Random steps with zero steps inside rows, at the start of one and the end of another."""
    x = torch.randn(T, N, 4)
    x[T // 2, 0] = 0
    x[0, N - 1] = 0
    x[T - 1, 0] = 0
    return x


@pytest.mark.parametrize("name", ["SeqLSTM", "SeqGRU", "Sequencer(FastLSTM)"])
def test_compile_matches_eager_outputs_and_gradients(name):
    module = FACTORIES[name]()
    x = torch.randn(5, 3, 4, requires_grad=True)
    expected = module(x)
    expected.square().sum().backward()
    expected_grads = [x.grad.clone()] + [p.grad.clone() for p in module.parameters()]
    x.grad = None
    module.zero_grad()
    compiled = torch.compile(module, backend="eager")
    got = compiled(x)
    got.square().sum().backward()
    torch.testing.assert_close(got, expected)
    for g, e in zip([x.grad] + [p.grad for p in module.parameters()], expected_grads):
        torch.testing.assert_close(g, e)


@pytest.mark.parametrize("name", FACTORIES)
def test_export_with_a_dynamic_length_and_batch_matches_eager(name):
    torch.manual_seed(0)
    module = FACTORIES[name]().eval()
    program = torch.export.export(module, (torch.randn(5, 3, 4),), dynamic_shapes=DYNAMIC)
    for T, N in ((9, 2), (1, 4), (17, 5)):
        x = _padded(T, N) if T > 1 else torch.randn(T, N, 4)
        torch.testing.assert_close(program.module()(x), module(x))


def test_export_of_a_batch_first_layer_keeps_both_dims_dynamic():
    module = rnnkit.SeqGRU(4, 6, batch_first=True, maskzero=True).eval()
    dims = ({0: Dim("N", min=1, max=100), 1: Dim("T", min=1, max=100)},)
    program = torch.export.export(module, (torch.randn(3, 5, 4),), dynamic_shapes=dims)
    x = _padded(7, 2).transpose(0, 1)
    torch.testing.assert_close(program.module()(x), module(x))


def test_a_step_module_nesting_others_exports_at_the_example_length_only():
    # Sequencer(Sequential(FastLSTM, Linear)) steps a Recursor whose inner step modules keep
    # state of their own: not a pure step for scan, so the loop is traced step by step.
    module = rnnkit.Sequencer(nn.Sequential(rnnkit.FastLSTM(4, 6), nn.Linear(6, 2))).eval()
    x = torch.randn(5, 3, 4)
    program = torch.export.export(module, (x,))
    torch.testing.assert_close(program.module()(x), module(x))
    try:
        with pytest.raises(Exception, match="specialized"):
            torch.export.export(module, (x,), dynamic_shapes=DYNAMIC)
    finally:
        # A failed export leaves scan's compiled frame cached with the failed trace's guards,
        # and the next dynamic export in the process specializes on them (torch 2.13).
        torch._dynamo.reset()


FUSED = ["SeqLSTM", "SeqLSTMP", "SeqGRU", "SeqRNN"]


@pytest.mark.parametrize("name", FUSED)
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "zero-steps"])
def test_the_exported_step_equations_equal_the_kernels_in_float64(name, masked):
    torch.manual_seed(0)
    layer = FACTORIES[name]().double()
    x = _padded(6, 3).double().requires_grad_()
    sizes = layer._state_sizes()
    hx = [torch.randn(1, 3, s, dtype=torch.float64, requires_grad=True) for s in sizes]
    valid = (x != 0).any(2) if masked else None
    got, got_final = layer._run_exported(x, hx, valid)
    if masked:
        expected, expected_final = layer._run_resetting(x, hx, valid)
    else:
        expected, expected_final = layer._run(x, hx)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got_final, expected_final)
    inputs = [x, *hx, *layer.parameters()]
    loss = [got.sum() + sum(f.square().sum() for f in got_final),
            expected.sum() + sum(f.square().sum() for f in expected_final)]  # fmt: skip
    for g, e in zip(*(torch.autograd.grad(v, inputs) for v in loss)):
        torch.testing.assert_close(g, e)


def test_scan_steps_copes_with_one_tensor_given_as_two_states():
    # A step module's zero state is often one tensor as both h and c; scan's carries must not
    # alias (uncopied, the exported LSTM gave wrong numbers).
    cell = rnnkit.FastLSTM(4, 6)
    x = torch.randn(5, 3, 4)
    zeros = torch.zeros(3, 6)
    shared, _ = scan_steps(cell.recurrent_step, (zeros, zeros), x)
    separate, _ = scan_steps(cell.recurrent_step, (zeros, zeros.clone()), x)
    torch.testing.assert_close(shared, separate)


def test_fullgraph_compile_is_refused_at_the_kernel_graph_break():
    module = rnnkit.SeqLSTM(4, 6)
    with pytest.raises(Exception, match="(?i)disable|skip|graph break"):
        torch.compile(module, backend="eager", fullgraph=True)(torch.randn(5, 3, 4))
