"""Hoisted/deferred sequence kernels vs stepping vs the fused PyTorch layers (issue 15).

Training fwd+bwd of ``T`` steps, ``N`` rows, ``D = H``; each candidate timed in turn,
round-robin, and the median per candidate reported as ``fused time / ours`` (higher is
better, 1.0 = as fast as ``torch.nn.LSTM``/``GRU``), all in one process.

    python -m benchmarks.hoist [--sizes 128 512 1024] [--rounds 7]
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time

import torch
from torch import nn

import rnnkit


class PeepholeCell(nn.Module):
    """A user's peephole LSTM for ``Recurrence``; the state is ``[h, c]`` as one ``(N, 2H)``."""

    def __init__(self, D: int, H: int) -> None:
        super().__init__()
        self.H = H
        self.ih = nn.Linear(D, 4 * H)
        self.hh = nn.Linear(H, 4 * H, bias=False)
        self.w_ci, self.w_cf, self.w_co = (nn.Parameter(torch.randn(H) * 0.1) for _ in range(3))

    def forward(self, x, hc):
        h, c = hc.split(self.H, 1)
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        i = torch.sigmoid(i + self.w_ci * c)
        f = torch.sigmoid(f + self.w_cf * c)
        c = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + self.w_co * c)
        return torch.cat((o * torch.tanh(c), c), 1)


def _stepping(module: nn.Module) -> nn.Module:
    slow = copy.deepcopy(module)
    slow.sequence_kernel = lambda: None  # the step path, same weights
    return slow


def _candidates(H: int) -> dict[str, tuple[nn.Module, str]]:
    """name -> (model taking (T, N, H), the fused family it is compared with)."""
    rec = rnnkit.Recurrence(PeepholeCell(H, H), 2 * H, 1)
    mufuru = rnnkit.MuFuRu(H, H)
    bn = rnnkit.FastLSTM(H, H, batchnorm=True)
    rnn = rnnkit.Recurrent(H, nn.Linear(H, H), nn.Linear(H, H), nn.Tanh)
    return {
        "nn.LSTM": (nn.LSTM(H, H), "nn.LSTM"),
        "nn.GRU": (nn.GRU(H, H), "nn.GRU"),
        "Recurrence(peephole cell)": (rnnkit.Sequencer(rec), "nn.LSTM"),
        "  stepping": (rnnkit.Sequencer(_stepping(rec)), "nn.LSTM"),
        "MuFuRu": (rnnkit.Sequencer(mufuru), "nn.GRU"),
        "  stepping ": (rnnkit.Sequencer(_stepping(mufuru)), "nn.GRU"),
        "FastLSTM(batchnorm=True)": (rnnkit.Sequencer(bn), "nn.LSTM"),
        "  stepping  ": (rnnkit.Sequencer(_stepping(bn)), "nn.LSTM"),
        "Recurrent(Linear, Linear, Tanh)": (rnnkit.Sequencer(rnn), "nn.RNN"),
        "  stepping   ": (rnnkit.Sequencer(_stepping(rnn)), "nn.RNN"),
        "nn.RNN": (nn.RNN(H, H), "nn.RNN"),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _train_step(model: nn.Module, x: torch.Tensor) -> None:
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    out.sum().backward()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 512, 1024])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-T", type=int, default=50)
    parser.add_argument("-N", type=int, default=32)
    args = parser.parse_args()
    print(f"CPU: {_cpu_model()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, T={args.T}, N={args.N}")  # fmt: skip
    for H in args.sizes:
        torch.manual_seed(0)
        cands = _candidates(H)
        x = torch.randn(args.T, args.N, H)
        times: dict[str, list[float]] = {name: [] for name in cands}
        for model, _ in cands.values():
            _train_step(model, x)  # warm-up
        for _ in range(args.rounds):
            for name, (model, _) in cands.items():
                start = time.perf_counter()
                _train_step(model, x)
                times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"H={H}")
        for name, (_, fused) in cands.items():
            print(f"  {name:34s} {med[name] * 1e3:9.2f} ms   {fused} / this = "
                  f"{med[fused] / med[name]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
