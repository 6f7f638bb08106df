"""Sequencer remember modes: 'neither' (default), 'both', 'train', 'eval'; forget; detaching."""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import GRU, FastLSTM, Sequencer

N, D, H = 3, 4, 5
MODES = ["neither", "both", "train", "eval"]


def _model():
    return Sequencer(nn.Sequential(FastLSTM(D, H), nn.Linear(H, H), GRU(H, H)))


def _carries(mode, training):
    return mode == "both" or mode == ("train" if training else "eval")


def test_default_mode_is_neither():
    seq = _model()
    assert seq.remember_mode == "neither"
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    seq(x1)
    fresh = _model()
    fresh.load_state_dict(seq.state_dict())
    assert_close(seq(x2), fresh(x2))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("mode", MODES)
def test_chunks_equal_concatenation_only_when_remembering(mode, training):
    seq = _model().train(training)
    ref = copy.deepcopy(seq)
    assert seq.remember(mode) is seq
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    whole = ref(torch.cat([x1, x2]))
    alone = ref(x2)

    y1 = seq(x1)
    y2 = seq(x2)
    assert_close(y1, whole[:2])
    if _carries(mode, training):
        assert_close(y2, whole[2:])
        assert not torch.allclose(y2, alone)
    else:
        assert_close(y2, alone)
        assert not torch.allclose(y2, whole[2:])


@pytest.mark.parametrize("mode", ["both", "train"])
def test_carried_state_is_detached(mode):
    seq = _model().remember(mode)
    x1 = torch.randn(2, N, D, requires_grad=True)
    x2 = torch.randn(3, N, D, requires_grad=True)
    seq(x1)
    seq(x2).sum().backward()
    assert x1.grad is None
    assert x2.grad is not None and x2.grad.abs().sum() > 0


def test_carried_state_is_detached_same_parameter_gradients_as_a_restart_from_that_state():
    seq = _model().remember("both")
    ref = copy.deepcopy(seq)
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    seq(x1)
    seq(x2).sum().backward()
    grads = [p.grad.clone() for p in seq.parameters()]

    # reference: forward x1 without graph, then x2 from the carried state
    with torch.no_grad():
        ref(x1)
    ref(x2).sum().backward()
    for a, p in zip(grads, ref.parameters()):
        assert_close(a, p.grad)


@pytest.mark.parametrize("mode", MODES)
def test_switching_train_eval_forgets(mode):
    seq = _model().remember(mode)
    ref = copy.deepcopy(seq)
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    seq(x1)  # training
    seq.eval()
    assert all(m.get_state() is None for m in _step_modules(seq))
    assert_close(seq(x2), ref.eval()(x2))
    seq.train()
    assert all(m.get_state() is None for m in _step_modules(seq))
    assert_close(seq(x1), ref.train()(x1))


def test_switching_via_a_parent_module_forgets():
    seq = _model().remember("both")
    outer = nn.Sequential(seq)
    ref = copy.deepcopy(seq)
    seq(torch.randn(2, N, D))
    outer.eval()
    x = torch.randn(3, N, D)
    assert_close(outer(x), ref.eval()(x))


def _step_modules(seq):
    mods = list(seq.module.module)
    return [mods[0], mods[2]]


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_forget_resets(training):
    seq = _model().train(training).remember("both")
    ref = copy.deepcopy(seq)
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    seq(x1)
    seq.forget()
    assert all(m.get_state() is None for m in _step_modules(seq))
    assert all(m.step == 1 for m in _step_modules(seq))
    assert_close(seq(x2), ref(x2))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_remember_without_argument_means_both(training):
    seq = _model().train(training)
    ref = copy.deepcopy(seq).remember("neither")
    seq.remember()
    assert seq.remember_mode == "both"
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    whole = ref(torch.cat([x1, x2]))
    seq(x1)
    assert_close(seq(x2), whole[2:])


def test_remember_can_be_switched_back_to_neither():
    seq = _model().remember("both")
    ref = copy.deepcopy(seq)
    x1, x2 = torch.randn(2, N, D), torch.randn(3, N, D)
    seq(x1)
    seq.remember("neither")
    assert_close(seq(x2), ref.remember("neither")(x2))


def test_unknown_mode_raises():
    seq = _model()
    with pytest.raises(
        ValueError, match=r"Sequencer.*'neither'.*'both'.*'train'.*'eval'.*'always'"
    ):
        seq.remember("always")
    assert seq.remember_mode == "neither"


@pytest.mark.parametrize("mode", ["both", "eval"])
def test_issue_19_train_eval_train(mode):
    # Original rnn issue 19: remember('both'/'eval') broke on train(3 steps) -> eval(1) -> train(3).
    seq = _model().remember(mode)
    fresh = copy.deepcopy(seq)
    xa, xb, xc = torch.randn(3, N, D), torch.randn(1, N, D), torch.randn(3, N, D)

    out = seq(xa)
    out.sum().backward()
    assert_close(out, fresh(xa))

    seq.eval()
    fresh.eval()
    with torch.no_grad():
        out_b = seq(xb)
    assert out_b.shape == (1, N, H)
    assert_close(out_b, fresh(xb))

    seq.train()
    fresh.train()
    out_c = seq(xc)
    assert out_c.shape == (3, N, H)
    out_c.sum().backward()
    assert_close(out_c, fresh(xc))


def test_eval_mode_carries_over_many_calls():
    seq = _model().eval().remember("eval")
    ref = copy.deepcopy(seq).remember("neither")
    chunks = [torch.randn(1, N, D) for _ in range(4)]
    outs = [seq(c) for c in chunks]
    assert_close(torch.cat(outs), ref(torch.cat(chunks)))


def test_batch_size_change_while_remembering_raises():
    seq = _model().remember("both")
    seq(torch.randn(2, N, D))
    with pytest.raises(ValueError, match=r"batch size.*forget\(\)"):
        seq(torch.randn(2, N + 1, D))
    seq.forget()
    assert seq(torch.randn(2, N + 1, D)).shape == (2, N + 1, H)


def test_batch_size_change_without_remembering_is_fine():
    seq = _model()
    seq(torch.randn(2, N, D))
    assert seq(torch.randn(2, N + 1, D)).shape == (2, N + 1, H)


def test_remember_is_independent_per_instance():
    a, b = _model().remember("both"), _model()
    assert b.remember_mode == "neither"
    a(torch.randn(2, N, D))
    assert all(m.get_state() is None for m in _step_modules(b))
