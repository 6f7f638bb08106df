"""torch.compile and torch.export of the sequence layers, as docs/export.md states them.

Compile: the fused kernels are a graph break (``torch.compiler.disable``), so the compiled
module gives eager's outputs and gradients. Export: the graph is traced at the example's
sequence length and batch size; a dynamic ``T`` is not supported yet (a test pins that, so the
docs stay true when it changes).
"""

import pytest
import torch
from torch.export import Dim

import rnnkit

FACTORIES = {
    "SeqLSTM": lambda: rnnkit.SeqLSTM(4, 6),
    "SeqGRU": lambda: rnnkit.SeqGRU(4, 6),
    "Sequencer(FastLSTM)": lambda: rnnkit.Sequencer(rnnkit.FastLSTM(4, 6)),
}


@pytest.mark.parametrize("name", FACTORIES)
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
def test_export_at_the_example_length_matches_eager(name):
    module = FACTORIES[name]().eval()
    x = torch.randn(5, 3, 4)
    program = torch.export.export(module, (x,))
    x2 = torch.randn(5, 3, 4)  # new values, the example's shape (both T and N are traced in)
    torch.testing.assert_close(program.module()(x2), module(x2))


def test_export_with_a_dynamic_length_is_not_supported_yet():
    module = rnnkit.SeqLSTM(4, 6).eval()
    with pytest.raises(Exception, match="specialized"):
        torch.export.export(module, (torch.randn(5, 3, 4),),
                            dynamic_shapes=({0: Dim("T", min=2, max=100)},))  # fmt: skip


def test_fullgraph_compile_is_refused_at_the_kernel_graph_break():
    module = rnnkit.SeqLSTM(4, 6)
    with pytest.raises(Exception, match="(?i)disable|skip|graph break"):
        torch.compile(module, backend="eager", fullgraph=True)(torch.randn(5, 3, 4))
