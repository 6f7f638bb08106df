"""LookupTableMaskZero: index 0 is padding (a zero vector, no gradient), indices 1..n_index are real."""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import FastLSTM, LookupTableMaskZero, Sequencer

N_INDEX, N_OUT = 6, 4


def sgd_step(params, lr):
    """A plain SGD step (torch.optim's first use costs seconds of imports)."""
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
                p.grad = None


def reinit_uniform(module):
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.1, 0.1)


def test_shape_and_weight_rows():
    emb = LookupTableMaskZero(N_INDEX, N_OUT)
    assert emb.weight.shape == (N_INDEX + 1, N_OUT)
    idx = torch.tensor([[1, 0, 6], [2, 3, 0]])
    out = emb(idx)
    assert out.shape == (2, 3, N_OUT)
    assert torch.equal(out[0, 0], emb.weight[1].detach())
    assert torch.equal(out[0, 2], emb.weight[N_INDEX].detach())
    assert torch.equal(out[1, 1], emb.weight[3].detach())


@pytest.mark.parametrize("reinit", [False, True])
def test_index_zero_gives_zeros_and_no_gradient(reinit):
    emb = LookupTableMaskZero(N_INDEX, N_OUT)
    if reinit:
        reinit_uniform(emb)
        assert emb.weight[0].abs().sum() > 0  # the padding row is no longer zero
    idx = torch.tensor([[0, 2, 0], [5, 0, 2]])
    out = emb(idx)
    assert torch.equal(out[idx == 0], torch.zeros(3, N_OUT))
    w = torch.randn(2, 3, N_OUT)
    (out * w).sum().backward()
    expected = torch.zeros(N_INDEX + 1, N_OUT)
    expected.index_add_(0, idx[idx > 0], w[idx > 0])
    assert torch.equal(emb.weight.grad[0], torch.zeros(N_OUT))
    assert_close(emb.weight.grad, expected)


def test_equals_a_lookup_table_for_real_indices_through_training():
    """The original's test: same as LookupTable on 1..n, and stays so under SGD with MSE."""
    emb = LookupTableMaskZero(N_INDEX, N_OUT)
    reinit_uniform(emb)
    ref = nn.Embedding(N_INDEX, N_OUT)
    with torch.no_grad():
        ref.weight.copy_(emb.weight[1:])
    for _ in range(10):
        idx = torch.randint(0, N_INDEX + 1, (5,))
        idx[0] = 0
        target = torch.randn(5, N_OUT)
        out = emb(idx)
        real = idx > 0
        assert torch.equal(out[~real], torch.zeros(int((~real).sum()), N_OUT))
        assert_close(out[real], ref(idx[real] - 1))
        nn.functional.mse_loss(out[real], target[real]).backward()
        nn.functional.mse_loss(ref(idx[real] - 1), target[real]).backward()
        sgd_step([*emb.parameters(), *ref.parameters()], 0.3)
    assert_close(emb.weight[1:], ref.weight)


def test_padding_feeds_masked_step_modules_a_zero_row():
    emb = LookupTableMaskZero(N_INDEX, 3).double()
    reinit_uniform(emb)
    lstm = FastLSTM(3, 2).double()
    ref = copy.deepcopy(lstm)
    model = Sequencer(nn.Sequential(emb, lstm.mask_zero(1)))
    idx = torch.tensor([[0, 1], [0, 4], [3, 0], [2, 6]])
    out = model(idx)
    assert torch.equal(out[:2, 0], torch.zeros(2, 2, dtype=torch.float64))
    assert torch.equal(out[2, 1], torch.zeros(2, dtype=torch.float64))
    ref_model = Sequencer(nn.Sequential(emb, ref))
    assert_close(out[2:, 0], ref_model(idx[2:, :1])[:, 0])
    assert_close(out[3:, 1], ref_model(idx[3:, 1:])[:, 0])


def test_largest_index_is_valid():
    emb = LookupTableMaskZero(N_INDEX, N_OUT)
    assert torch.equal(emb(torch.tensor([N_INDEX]))[0], emb.weight[N_INDEX].detach())


@pytest.mark.parametrize("bad", [N_INDEX + 1, -1, 100])
def test_out_of_range_index_names_the_range(bad):
    emb = LookupTableMaskZero(N_INDEX, N_OUT)
    with pytest.raises(ValueError, match=rf"LookupTableMaskZero: .*0\.\.{N_INDEX}.*{bad}"):
        emb(torch.tensor([[1, bad], [0, 2]]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_non_integer_indices_are_refused(dtype):
    emb = LookupTableMaskZero(N_INDEX, N_OUT)
    with pytest.raises(TypeError, match="LookupTableMaskZero"):
        emb(torch.tensor([1, 0, 2]).to(dtype))


@pytest.mark.parametrize("args", [(0, 3), (3, 0), (-2, 3), (2.0, 3)])
def test_bad_constructor_arguments(args):
    with pytest.raises((ValueError, TypeError), match="LookupTableMaskZero"):
        LookupTableMaskZero(*args)


def test_empty_index_tensor():
    out = LookupTableMaskZero(N_INDEX, N_OUT)(torch.zeros(0, 3, dtype=torch.long))
    assert out.shape == (0, 3, N_OUT)
