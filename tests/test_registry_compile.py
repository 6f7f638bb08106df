"""``torch.compile`` of every registry entry gives eager's outputs and gradients.

The whole-sequence kernels are graph breaks (``torch.compiler.disable``; docs/export.md), so a
compiled module runs them eagerly and compiles what is around them. A backend that runs the
captured graphs as they are (dynamo's ``eager``) keeps this fast: it checks what dynamo captures and how it splits the module, not inductor's
code generation (``tests/cli/test_train_flags.py`` trains with inductor).
"""

from __future__ import annotations

import pytest
import torch

from tests.registry import ENTRIES
from tests.test_registry import assert_same, build, draw, floats, run

# Entries that compute nothing (they pick a tensor out of their input): no graph to capture.
NO_TENSOR_OPS = {"SelectTable"}


def _outputs_and_grads(entry, module, calls):
    outputs = run(entry, module, calls)
    loss = sum(t.square().sum() for out in outputs for t in floats(out) if t.requires_grad)
    params = [p for p in module.parameters() if p.requires_grad]
    differentiable = params and torch.is_tensor(loss) and loss.requires_grad
    grads = torch.autograd.grad(loss, params, allow_unused=True) if differentiable else []
    return outputs, [g for g in grads if g is not None]


@pytest.mark.parametrize("entry", ENTRIES, ids=repr)
def test_compile_matches_eager(entry):
    torch._dynamo.reset()  # a fresh cache: each entry compiles its own graphs
    module = build(entry)
    calls = draw(entry)
    expected, expected_grads = _outputs_and_grads(entry, module, calls)
    graphs = []

    def backend(gm, example_inputs):  # dynamo's "eager" backend, counting what it captures
        graphs.append(gm)
        return gm.forward

    compiled = torch.compile(module, backend=backend)
    got, got_grads = _outputs_and_grads(entry, compiled, calls)
    assert graphs or entry.id in NO_TENSOR_OPS, "dynamo captured no graph: it ran uncompiled"
    assert_same(got, expected)
    assert_same(got_grads, expected_grads)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.id in ("SeqLSTM", "SeqGRU",
                                   "Sequencer(FastLSTM)", "LanguageModel")], ids=repr)  # fmt: skip
def test_compile_on_cuda_matches_eager_on_cuda(entry):
    torch._dynamo.reset()
    module = build(entry).cuda()
    calls = [tuple(a.cuda() for a in args) for args in draw(entry)]
    expected, expected_grads = _outputs_and_grads(entry, module, calls)
    got, got_grads = _outputs_and_grads(entry, torch.compile(module), calls)  # inductor
    assert_same(got, expected, rtol=1e-4, atol=1e-5)
    assert_same(got_grads, expected_grads, rtol=1e-4, atol=1e-5)
