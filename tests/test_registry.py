"""Generic checks that every registry entry gets (tests/registry.py lists the entries)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn
from torch.func import functional_call

from rnnkit import _nest
from tests.registry import ENTRIES, Entry, public_classes

STATEFUL = [e for e in ENTRIES if e.state]
MODULES = [e for e in ENTRIES if e.kind != "criterion"]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


# ---------------------------------------------------------------- helpers
def build(entry: Entry, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(0)
    return entry.make().to(dtype)


def draw(entry: Entry, dtype=torch.float32, seed: int = 1, calls: int | None = None) -> list:
    torch.manual_seed(seed)
    return [entry.inputs(dtype) for _ in range(calls or entry.calls)]


def call(entry: Entry, module: nn.Module, args: tuple, dtype=torch.float32):
    if entry.prepare is not None:
        entry.prepare(module, dtype, args)
    return module(*args)


def run(entry: Entry, module: nn.Module, calls: list, seed: int = 2, dtype=torch.float32) -> list:
    """Every call from a fresh start, with a fixed seed (dropout, noise and samples repeat)."""
    torch.manual_seed(seed)
    if hasattr(module, "forget"):
        module.forget()
    return [call(entry, module, args, dtype) for args in calls]


def floats(obj) -> list[torch.Tensor]:
    return [t for t in _nest.flatten(obj) if t.is_floating_point()]


def assert_same(a, b, **tol) -> None:
    ta, tb = _nest.flatten(a), _nest.flatten(b)
    assert len(ta) == len(tb)
    for x, y in zip(ta, tb):
        torch.testing.assert_close(x, y, **tol)


def state_tensors(module) -> list[torch.Tensor]:
    return _nest.flatten(module.get_state())


# ---------------------------------------------------------------- coverage
def test_every_public_class_is_in_the_registry():
    missing = public_classes() - {e.cls for e in ENTRIES}
    assert not missing, (
        f"add these public classes to tests/registry.py: {sorted(c.__name__ for c in missing)}"
    )


# ---------------------------------------------------------------- gradients
class _Runner(nn.Module):
    """All calls of one generic run as one function of the float inputs (for gradcheck)."""

    def __init__(self, entry: Entry, module: nn.Module, calls: list) -> None:
        super().__init__()
        self.entry, self.module, self.calls = entry, module, calls

    def forward(self, *flat):
        it = iter(flat)
        calls = [_nest.map_tensors(lambda t: next(it) if self._diff(t) else t, args)
                 for args in self.calls]  # fmt: skip
        outs = run(self.entry, self.module, calls, dtype=torch.float64)
        return tuple(t for t in floats(outs) if t.requires_grad)

    def _diff(self, t: torch.Tensor) -> bool:
        return t.is_floating_point() and id(t) not in self.skip

    def prepare(self) -> list[torch.Tensor]:
        self.skip = {id(t) for args in self.calls for i, a in enumerate(args)
                     if i in self.entry.no_grad_args for t in _nest.flatten(a)}  # fmt: skip
        return [t for args in self.calls for t in _nest.flatten(args) if self._diff(t)]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.gradcheck], ids=repr)
def test_gradcheck_float64_inputs_and_parameters(entry):
    module = build(entry, torch.float64)
    # Between calls a remembered state is detached (truncated BPTT): one call, whole graph.
    calls = 1 if entry.kind == "seq" else entry.calls
    runner = _Runner(entry, module, draw(entry, torch.float64, calls=calls))
    inputs = [t.clone().requires_grad_() for t in runner.prepare()]
    names = [n for n, p in module.named_parameters() if p.is_floating_point()]
    params = [module.get_parameter(n).detach().clone().requires_grad_() for n in names]

    def fn(*flat):
        given = dict(zip(["module." + n for n in names], flat[len(inputs) :]))
        return functional_call(runner, given, tuple(flat[: len(inputs)]))

    assert torch.autograd.gradcheck(fn, (*inputs, *params), fast_mode=True, atol=1e-6)


# ---------------------------------------------------------------- parameters and copies
@pytest.mark.parametrize("entry", ENTRIES, ids=repr)
def test_state_dict_round_trip(entry):
    a = build(entry)
    torch.manual_seed(7)
    b = entry.make()
    b.load_state_dict(a.state_dict())
    calls = draw(entry)
    assert_same(run(entry, a, calls), run(entry, b, calls))


@pytest.mark.parametrize("entry", ENTRIES, ids=repr)
def test_deepcopy_and_pickle_mid_sequence(entry):
    module = build(entry).train()
    first, second = draw(entry, calls=2)
    torch.manual_seed(3)
    call(entry, module, first)  # a carried state with its graph, Reinforce records …
    copies = [copy.deepcopy(module), pickle.loads(pickle.dumps(module))]
    for c in copies:
        assert not any(t.requires_grad for t in (state_tensors(c) if entry.state else []))
    expected = _continue(entry, module, second)
    for c in copies:
        assert_same(_continue(entry, c, second), expected)


def _continue(entry, module, args):
    torch.manual_seed(4)
    with torch.no_grad():
        return call(entry, module, args)


@pytest.mark.parametrize("entry", STATEFUL, ids=repr)
def test_double_moves_the_carried_state(entry):
    module = build(entry)
    first, second = draw(entry, calls=2)
    torch.manual_seed(3)
    call(entry, module, first)
    module.double()
    assert all(t.dtype == torch.float64 for t in state_tensors(module))
    second64 = _nest.map_tensors(lambda t: t.double() if t.is_floating_point() else t, second)
    out = _continue(entry, module, second64)
    reference = build(entry, torch.float64)
    torch.manual_seed(3)
    call(
        entry,
        reference,
        _nest.map_tensors(lambda t: t.double() if t.is_floating_point() else t, first),
        torch.float64,
    )
    assert_same(out, _continue(entry, reference, second64), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("entry", STATEFUL, ids=repr)
def test_eval_keeps_no_graph_in_the_state(entry):
    module = build(entry).eval()
    for args in draw(entry, calls=4):
        out = call(entry, module, args)
    assert state_tensors(module), "a stateful module should carry a state after a call"
    assert not any(t.requires_grad for t in state_tensors(module))
    assert all(t.grad_fn is None for t in floats(out) if not t.requires_grad)


@pytest.mark.parametrize("entry", STATEFUL, ids=repr)
def test_set_state_round_trip_and_checks(entry):
    module = build(entry)
    first, second = draw(entry, calls=2)
    call(entry, module, first)
    saved = _nest.detach(module.get_state())
    expected = _continue(entry, module, second)
    module.set_state(saved)  # back to the state before `second`
    assert_same(_continue(entry, module, second), expected)
    name = entry.cls.__name__
    with pytest.raises(TypeError, match=rf"^{name}: "):
        module.set_state("not a state")
    wider = _nest.map_tensors(lambda t: torch.cat((t, t[..., :1]), -1), saved)
    if entry.state_width_fixed:
        with pytest.raises(ValueError, match=rf"^{name}: "):
            module.set_state(wider)
    if any(p.is_floating_point() for p in module.parameters()):  # a dtype to keep to
        with pytest.raises(TypeError, match=rf"^{name}: "):
            module.set_state(_nest.map_tensors(lambda t: t.double(), saved))


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.empty_batch], ids=repr)
def test_empty_batch_gives_an_empty_result(entry):
    module = build(entry)
    dims = entry.arg_batch_dims or (entry.batch_dim,) * len(entry.inputs(torch.float32))
    args = tuple(
        _nest.map_tensors(lambda t, d=d: t.narrow(d, 0, 0) if t.dim() > d else t, a)
        for a, d in zip(draw(entry)[0], dims)
    )
    out = call(entry, module, args)
    for t in floats(out):
        if entry.kind == "criterion":
            assert t.dim() == 0 and t.item() == 0.0  # no rows, no loss (not NaN)
        else:
            assert t.size(entry.batch_dim) == 0, tuple(t.shape)


# ---------------------------------------------------------------- layouts
@pytest.mark.parametrize("entry", MODULES, ids=repr)
def test_non_contiguous_input_equals_contiguous(entry):
    module = build(entry)
    calls = draw(entry)
    strided = [tuple(_strided(a) if isinstance(a, torch.Tensor) else a for a in args)
               for args in calls]  # fmt: skip
    assert not strided[0][0].is_contiguous()
    assert_same(run(entry, module, strided), run(entry, module, calls))


def _strided(t: torch.Tensor) -> torch.Tensor:
    wide = t.new_zeros(*t.shape[:-1], 2 * t.shape[-1]) if t.dim() else t.clone()
    if not t.dim():
        return t
    wide[..., ::2] = t
    return wide[..., ::2]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.batch_first], ids=repr)
def test_batch_first_equals_time_major(entry):
    module = build(entry)
    twin = entry.batch_first(module)
    calls = draw(entry)
    bf_calls = [tuple(a.transpose(0, 1) for a in args) for args in calls]
    expected = run(entry, module, calls)
    got = run(entry, twin, bf_calls)
    assert_same([o.transpose(0, 1) for o in got], expected)


@CUDA
@pytest.mark.parametrize("entry", ENTRIES, ids=repr)
def test_cuda_matches_cpu(entry):
    cpu = build(entry)
    calls = draw(entry)
    expected = run(entry, cpu, calls)
    gpu = copy.deepcopy(cpu).cuda()
    gpu_calls = [_nest.map_tensors(lambda t: t.cuda(), args) for args in calls]
    got = run(entry, gpu, gpu_calls)
    assert_same(_nest.map_tensors(lambda t: t.cpu(), got), expected, atol=1e-4, rtol=1e-4)
