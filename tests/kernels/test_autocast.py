"""The whole-sequence paths under ``torch.autocast`` (bf16 on the CPU).

Autocast casts op by op; the kernels multiply against weights prepared once per call and
write into preallocated buffers, so they run cast by hand (every tensor in bf16, as the fused
layers do) and the paths that intercept a cell's ``nn.Linear`` step it plainly. Each must run
forward and backward, close to the float32 result, with float32 parameter gradients and a
float32 carried state; the plainly stepped ones give exactly the step path's numbers.
"""

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import rnnkit
from rnnkit.kernels.autocast import autocast_dtype, casts_for_autocast

H = 8


class PeepholeCell(nn.Module):
    """A user's cell for ``Recurrence``: the state is ``[h, c]`` as one ``(N, 2H)``."""

    def __init__(self) -> None:
        super().__init__()
        self.ih, self.hh = nn.Linear(H, 4 * H), nn.Linear(H, 4 * H, bias=False)
        self.w_c = nn.Parameter(torch.randn(H) * 0.1)

    def forward(self, x, hc):
        h, c = hc.split(H, 1)
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        c = torch.sigmoid(f + self.w_c * c) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.cat((torch.sigmoid(o) * torch.tanh(c), c), 1)


MODULES = {
    "FastLSTM": lambda: rnnkit.FastLSTM(H, H),
    "FastLSTM-wide": lambda: rnnkit.FastLSTM(H, 600),  # rnnkit's kernel, not ATen's
    "FastLSTM-mask": lambda: rnnkit.FastLSTM(H, H).mask_zero(1),
    "LSTM": lambda: rnnkit.LSTM(H, H),
    "GRU": lambda: rnnkit.GRU(H, H),
    "GRU-dropout": lambda: rnnkit.GRU(H, H, p=0.2),
    "FastLSTM-batchnorm": lambda: rnnkit.FastLSTM(H, H, batchnorm=True),
    "MuFuRu": lambda: rnnkit.MuFuRu(H, H),
    "Recurrence": lambda: rnnkit.Recurrence(PeepholeCell(), 2 * H, 1),
    "Recurrent": lambda: rnnkit.Recurrent(H, nn.Linear(H, H), nn.Linear(H, H), nn.Tanh()),
}
STEPPED_PLAINLY = ["FastLSTM-batchnorm", "Recurrence", "Recurrent"]


def _input():
    torch.manual_seed(1)
    x = torch.randn(6, 4, H)
    x[:2, 0] = 0  # padding for the masked module; real input for the others
    return x


def _bf16():
    return torch.autocast("cpu", dtype=torch.bfloat16)


@pytest.mark.parametrize("name", MODULES)
def test_whole_sequence_under_autocast_runs_close_to_float32(name):
    torch.manual_seed(0)
    module = MODULES[name]()
    x = _input()
    torch.manual_seed(2)  # the same dropout masks
    expected = rnnkit.Sequencer(copy.deepcopy(module))(x)
    seq = rnnkit.Sequencer(module).remember("both")
    torch.manual_seed(2)
    with _bf16():
        y = seq(x)
    assert_close(y.float(), expected, atol=0.05, rtol=0.05)
    y.float().pow(2).sum().backward()
    for p in module.parameters():
        assert p.grad is not None and p.grad.dtype == torch.float32
        assert torch.isfinite(p.grad).all()
    if name not in STEPPED_PLAINLY:  # those carry what the step path gives
        state = module.get_state()
        leaves = state if isinstance(state, (tuple, list)) else [state]
        assert all(s.dtype == torch.float32 for s in leaves), [s.dtype for s in leaves]


@pytest.mark.parametrize("name", STEPPED_PLAINLY)
def test_intercepting_paths_under_autocast_are_the_step_path(name):
    torch.manual_seed(0)
    module = MODULES[name]()
    stepping = copy.deepcopy(module)
    stepping.sequence_kernel = lambda: None
    x = _input().requires_grad_()
    with _bf16():
        y, y_step = rnnkit.Sequencer(module)(x), rnnkit.Sequencer(stepping)(x)
    assert_close(y, y_step, rtol=0, atol=0)
    g = torch.autograd.grad(y.float().sum(), [x, *module.parameters()])
    g_step = torch.autograd.grad(y_step.float().sum(), [x, *stepping.parameters()])
    for a, b in zip(g, g_step):
        assert_close(a, b, rtol=0, atol=0)


def test_casts_for_autocast_casts_in_and_gives_the_state_its_dtype_back():
    seen = []

    @casts_for_autocast
    def kernel(x, h, weight, flags=None, valid=None):
        seen.append((x.dtype, h.dtype, weight.dtype, valid.dtype, autocast_dtype(x)))
        return x @ weight, h * 2

    x, h, w, valid = torch.randn(3, 2), torch.randn(3, 2), torch.randn(2, 2), torch.ones(3).bool()
    out, final = kernel(x, h, w, valid=valid)
    assert out.dtype == final.dtype == torch.float32 and autocast_dtype(x) is None
    with _bf16():
        out, final = kernel(x, h, w, valid=valid)
    assert seen[-1] == (torch.bfloat16, torch.bfloat16, torch.bfloat16, torch.bool, None)
    assert out.dtype == torch.bfloat16 and final.dtype == torch.float32
