"""TrimZero and trim_zero: the same results as MaskZero / mask_zero, computed on the kept rows only."""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit import (
    GRU,
    LSTM,
    CAddTable,
    FastLSTM,
    LookupTableMaskZero,
    MaskZero,
    MuFuRu,
    ParallelTable,
    Recurrence,
    Recursor,
    Sequencer,
    TrimZero,
)

D, H = 3, 4
F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def grads(module):
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in module.parameters()]


def sgd_step(params, lr):
    """A plain SGD step (torch.optim's first use costs seconds of imports)."""
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
                p.grad = None


def run_both(make_module, n_input_dim, x, weight_fn):
    """Outputs, input grads and param grads of MaskZero and TrimZero around copies of one module."""
    base = make_module().double()
    results = []
    for cls in (MaskZero, TrimZero):
        layer = cls(copy.deepcopy(base), n_input_dim)
        xi = x.clone().requires_grad_()
        out = layer(xi)
        weight_fn(out).backward()
        results.append((out, xi.grad, grads(layer)))
    return results


def test_trim_zero_equals_mask_zero_on_linear():
    x = torch.randn(6, D, dtype=F64)
    x[[0, 3, 4]] = 0
    w = torch.randn(6, 5, dtype=F64)
    (out_m, gx_m, gp_m), (out_t, gx_t, gp_t) = run_both(
        lambda: nn.Linear(D, 5), 1, x, lambda o: (o * w).sum()
    )
    assert torch.equal(out_t[[0, 3, 4]], torch.zeros(3, 5, dtype=F64))
    assert (out_t[[1, 2, 5]].abs() > 0).all()
    assert_close(out_t, out_m, **TOL)
    assert_close(gx_t, gx_m, **TOL)
    assert torch.equal(gx_t[[0, 3, 4]], torch.zeros(3, D, dtype=F64))
    for a, b in zip(gp_t, gp_m):
        assert_close(a, b, **TOL)


def test_trim_zero_equals_mask_zero_on_conv1d_with_two_input_dims():
    x = torch.randn(4, 2, 5, dtype=F64)
    x[1] = 0
    w = torch.randn(4, 3, 3, dtype=F64)
    (out_m, gx_m, gp_m), (out_t, gx_t, gp_t) = run_both(
        lambda: nn.Conv1d(2, 3, 3), 2, x, lambda o: (o * w).sum()
    )
    assert torch.equal(out_t[1], torch.zeros(3, 3, dtype=F64))
    assert_close(out_t, out_m, **TOL)
    assert_close(gx_t, gx_m, **TOL)
    for a, b in zip(gp_t, gp_m):
        assert_close(a, b, **TOL)


def test_trimmed_module_sees_only_kept_rows():
    seen = []
    lin = nn.Linear(D, 2)
    lin.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().clone()))
    layer = TrimZero(lin, 1)
    x = torch.randn(5, D)
    x[[1, 2]] = 0
    layer(x)
    assert_close(seen[-1], x[[0, 3, 4]], rtol=0, atol=0)
    layer(torch.randn(5, D))
    assert seen[-1].shape == (5, D)


class TupleModule(nn.Module):
    """((a, b), c) -> (a W + b, c * 2): two outputs, a nested input."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(D, 2)

    def forward(self, x):
        (a, b), c = x
        return self.lin(a) + b, c * 2


@pytest.mark.parametrize("cls", [MaskZero, TrimZero])
def test_nested_tuple_input_first_tensor_decides(cls):
    layer = cls(TupleModule().double(), 1)
    a, b, c = (
        torch.randn(4, D, dtype=F64),
        torch.randn(4, 2, dtype=F64),
        torch.randn(4, 3, dtype=F64),
    )
    a[1] = 0  # padding, although b and c are not zero there
    b[2], c[2] = 0, 0  # not padding: a decides
    a.requires_grad_()
    y, z = layer(((a, b), c))
    y_ref, z_ref = layer.module(((a, b), c))
    assert torch.equal(y[1], torch.zeros(2, dtype=F64))
    assert torch.equal(z[1], torch.zeros(3, dtype=F64))
    keep = [0, 2, 3]
    assert_close(y[keep], y_ref[keep], **TOL)
    assert_close(z[keep], z_ref[keep], **TOL)
    y.sum().backward()
    assert_close(layer.module.lin.weight.grad, a[keep].detach().sum(0).expand(2, D), **TOL)


def simple_rnn():
    step = ParallelTable(
        nn.Linear(D, H), nn.Linear(H, H), merge=nn.Sequential(CAddTable(), nn.Tanh())
    )
    return Recurrence(step, H, 1)


MAKERS = {
    "FastLSTM": lambda: FastLSTM(D, H),
    "LSTM": lambda: LSTM(D, H),
    "GRU": lambda: GRU(D, H),
    "GRU_reset_after": lambda: GRU(D, H, reset_after=True),
    "MuFuRu": lambda: MuFuRu(D, H),
    "Recurrence": simple_rnn,
    "Recursor": lambda: Recursor(nn.Sequential(nn.Linear(D, 5), FastLSTM(5, H))),
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_step_module_trim_zero_equals_mask_zero(kind):
    base = MAKERS[kind]().double()
    x = torch.randn(6, 5, D, dtype=F64)
    x[torch.rand(6, 5) < 0.35] = 0  # zeros scattered anywhere, not only as padding
    x[:, 4] = 0
    w = torch.randn(6, 5, H, dtype=F64)
    results = []
    for mode in ("mask_zero", "trim_zero"):
        module = getattr(copy.deepcopy(base), mode)(1)
        xi = x.clone().requires_grad_()
        out = Sequencer(module)(xi)
        (out * w).sum().backward()
        results.append((out, xi.grad, grads(module)))
    (out_m, gx_m, gp_m), (out_t, gx_t, gp_t) = results
    assert_close(out_t, out_m, **TOL)
    assert_close(gx_t, gx_m, **TOL)
    for a, b in zip(gp_t, gp_m):
        assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", ["FastLSTM", "LSTM", "GRU", "MuFuRu", "Recurrence"])
def test_leaf_step_module_computes_only_non_zero_rows(kind):
    module = MAKERS[kind]().trim_zero(1)
    rows = []
    step = module.recurrent_step

    def recording(x, state):
        rows.append(x.size(0))
        return step(x, state)

    module.recurrent_step = recording
    x = torch.randn(3, 4, D)
    x[0, [0, 1, 3]] = 0
    x[1, 2] = 0
    for step_input in x.unbind(0):  # stepped by hand (a Sequencer may run a sequence kernel)
        module(step_input)
    assert rows == [1, 3, 4]


def test_batchnorm_lstm_refuses_trim_zero():
    # Batch statistics over the kept rows only would differ from mask_zero's over every row.
    with pytest.raises(ValueError, match=r"FastLSTM.*trim_zero.*batchnorm.*mask_zero"):
        FastLSTM(D, H, batchnorm=True).trim_zero(1)
    FastLSTM(D, H, batchnorm=True).mask_zero(1)  # masking is fine


def test_bayesian_gru_mono_trim_zero_equals_mask_zero():
    base = GRU(D, H, p=0.3, mono=True).double()
    x = torch.randn(5, 4, D, dtype=F64)
    x[:2, 0] = 0
    x[3, 2] = 0
    outs = []
    for mode in ("mask_zero", "trim_zero"):
        module = getattr(copy.deepcopy(base), mode)(1).train()
        torch.manual_seed(7)
        outs.append(Sequencer(module)(x))
    # dropout is active (differs from evaluation) and the same in both modes
    ref = Sequencer(copy.deepcopy(base).mask_zero(1).eval())(x)
    assert not torch.allclose(outs[0], ref)
    assert_close(outs[1], outs[0], **TOL)


@pytest.mark.parametrize("cell", ["FastLSTM", "GRU"])
def test_language_model_training_identical_with_trim_and_mask(cell):
    """The original's TrimZero_main: LMs trained on left-padded batches, loss sequences equal."""
    V, E, Hd, C = 7, 10, 8, 10
    torch.manual_seed(3)
    cell_module = FastLSTM(E, Hd) if cell == "FastLSTM" else GRU(E, Hd)
    base = nn.ModuleDict(
        {"emb": LookupTableMaskZero(V, E), "rnn": cell_module, "out": nn.Linear(Hd, C)}
    ).double()
    batches = []
    for _ in range(3):
        idx = torch.randint(1, V + 1, (5, 4))
        for row, pad in enumerate([0, 2, 4, 1]):
            idx[:pad, row] = 0
        batches.append((idx, torch.randint(0, C, (4,))))
    losses = {}
    for mode in ("mask_zero", "trim_zero"):
        model = copy.deepcopy(base)
        getattr(model["rnn"], mode)(1)
        seq = Sequencer(nn.Sequential(model["emb"], model["rnn"]))
        losses[mode] = []
        for idx, target in batches:
            loss = nn.functional.cross_entropy(model["out"](seq(idx)[-1]), target)
            loss.backward()
            sgd_step(model.parameters(), 0.5)
            losses[mode].append(loss.detach())
    assert_close(torch.stack(losses["trim_zero"]), torch.stack(losses["mask_zero"]), **TOL)
    assert len(set(float(v) for v in losses["mask_zero"])) == 3
