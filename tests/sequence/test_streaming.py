"""Streaming: the state as an explicit input and output, eagerly, exported, and in ONNX."""

import warnings

import pytest
import torch
from torch import nn
from torch.export import Dim
from torch.utils._pytree import tree_leaves, tree_map

import rnnkit
from rnnkit.models import LanguageModel

FACTORIES = {
    "SeqLSTM": (lambda: rnnkit.SeqLSTM(4, 6), False),
    "SeqGRU-maskzero": (lambda: rnnkit.SeqGRU(4, 6, maskzero=True), False),
    "Sequencer(FastLSTM)": (lambda: rnnkit.Sequencer(rnnkit.FastLSTM(4, 6)), False),
    "LanguageModel": (lambda: LanguageModel(11, "lstm", wordvec_size=4, rnn_size=6), True),
}


def _input(tokens: bool, T: int, N: int) -> torch.Tensor:
    if tokens:
        return torch.randint(11, (T, N))
    x = torch.randn(T, N, 4)
    x[T // 2, 0] = 0  # a zero step (a reset for the masked layer)
    return x


def _export(stream: rnnkit.Streaming, x: torch.Tensor):
    state = stream.zero_state(x.size(1))
    N = Dim("N", min=1, max=10_000)
    dims = ({0: Dim("T", min=1, max=10_000), 1: N}, tree_map(lambda _: {0: N}, state))
    return (x, state), dims


def assert_same(a, b) -> None:
    for x, y in zip(tree_leaves(a), tree_leaves(b), strict=True):
        torch.testing.assert_close(x, y)


@pytest.mark.parametrize("name", FACTORIES)
def test_chunks_streamed_with_the_returned_state_equal_one_whole_call(name):
    make, tokens = FACTORIES[name]
    torch.manual_seed(0)
    stream = rnnkit.Streaming(make()).eval()
    x = _input(tokens, 9, 2)
    whole, whole_state = stream(x, stream.zero_state(2))
    first, state = stream(x[:4], stream.zero_state(2))
    second, state = stream(x[4:], state)
    assert_same(torch.cat((first, second)), whole)
    assert_same(state, whole_state)


def test_it_equals_set_state_then_call_and_leaves_the_module_state_as_it_was():
    lstm = rnnkit.SeqLSTM(4, 6).remember("both").eval()
    lstm(torch.randn(3, 2, 4))
    carried = lstm.get_state()
    given = (torch.randn(2, 6), torch.randn(2, 6))
    x = torch.randn(5, 2, 4)
    output, final = rnnkit.Streaming(lstm)(x, given)
    assert_same(lstm.get_state(), carried)  # untouched
    twin = rnnkit.SeqLSTM(4, 6).eval()
    twin.load_state_dict(lstm.state_dict())
    expected, expected_final = twin(x, state=given, return_state=True)
    assert_same((output, final), (expected, expected_final))


def test_no_state_starts_from_zeros_and_restores_step_counters():
    fast = rnnkit.FastLSTM(4, 6)
    stream = rnnkit.Streaming(rnnkit.Sequencer(fast)).eval()
    x = torch.randn(5, 2, 4)
    assert_same(stream(x), stream(x, stream.zero_state(2)))
    assert fast.step == 1 and fast.get_state() is None


def test_zero_state_has_the_form_of_get_state():
    model = LanguageModel(11, "gru", wordvec_size=4, rnn_size=6, num_layers=2)
    state = rnnkit.Streaming(model).zero_state(3)
    assert [tuple(t.shape) for t in tree_leaves(state)] == [(3, 6), (3, 6)]
    model.set_state(state)  # accepted as it is
    lstm_state = rnnkit.Streaming(rnnkit.SeqLSTMP(4, 6, 2).double()).zero_state(1)
    assert [(tuple(t.shape), t.dtype) for t in lstm_state] == [((1, 2), torch.float64),
                                                               ((1, 6), torch.float64)]  # fmt: skip


def test_errors_name_streaming():
    with pytest.raises(TypeError, match="Streaming: expected a module that carries state"):
        rnnkit.Streaming(nn.Linear(2, 2))
    stream = rnnkit.Streaming(rnnkit.Sequencer(rnnkit.NormStabilizer()))
    with pytest.raises(ValueError, match="Streaming: the state of Sequencer has no fixed shape"):
        stream.zero_state(2)


@pytest.mark.parametrize("name", FACTORIES)
def test_the_exported_program_takes_and_returns_the_state_at_any_length(name):
    make, tokens = FACTORIES[name]
    torch.manual_seed(0)
    stream = rnnkit.Streaming(make()).eval()
    args, dims = _export(stream, _input(tokens, 5, 3))
    program = torch.export.export(stream, args, dynamic_shapes=dims).module()
    x = _input(tokens, 11, 2)
    first, state = program(x[:3], stream.zero_state(2))
    second, state = program(x[3:], state)
    assert_same((torch.cat((first, second)), state), stream(x, stream.zero_state(2)))


@pytest.mark.parametrize("name", FACTORIES)
def test_onnx_export_runs_in_onnxruntime_as_eager(name, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the dev extra")
    pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript")
    make, tokens = FACTORIES[name]
    torch.manual_seed(0)
    stream = rnnkit.Streaming(make()).eval()
    args, dims = _export(stream, _input(tokens, 5, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.onnx's notes on its own internals
        onnx_program = torch.onnx.export(stream, args, dynamic_shapes=dims, dynamo=True,
                                         verbose=False)  # fmt: skip
    path = tmp_path / "model.onnx"
    onnx_program.save(str(path))
    session = ort.InferenceSession(str(path))
    x, state = _input(tokens, 8, 2), stream.zero_state(2)
    feeds = [x] + tree_leaves(state)
    got = session.run(None, {i.name: v.numpy() for i, v in zip(session.get_inputs(), feeds)})
    expected = tree_leaves(stream(x, state))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        torch.testing.assert_close(torch.from_numpy(g), e, rtol=1e-5, atol=1e-5)
