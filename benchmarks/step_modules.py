"""Training throughput and evaluation memory of rnnkit's step modules, next to PyTorch's.

    python -m benchmarks.step_modules [--quick] [--markdown]

Throughput: tokens/s = T*N / median time of one forward + backward of ``outputs.sum()``
(after warm-up; the models are timed round-robin), for ``Sequencer`` over ``FastLSTM``,
``LSTM`` and ``GRU`` and, in the same run, the fused ``torch.nn.LSTM`` / ``torch.nn.GRU`` and
a plain Python loop over ``torch.nn.LSTMCell``. ``ratio`` is tokens/s over the fused kernel of
the same family. FLOP/s counts the matmuls only: forward per step ``2*N*(D+H)*G*H`` (``G`` = 4
gate blocks for the LSTMs, 3 for the GRUs), forward + backward ~3x that, as a fraction of the
float32 matmul peak measured in the same run (the fastest of several large ``torch.mm``).

Memory: a ``FastLSTM`` in ``eval()`` is stepped 100 and 100,000 times (outputs discarded),
under ``torch.no_grad()`` and with grad enabled, each run in a fresh subprocess that reports
its peak RSS, the RSS growth during the loop, and the peak and retained (after the loop and a
``gc.collect()``) tracemalloc'd Python allocations. Constant memory: peak-RSS ratio <= 1.1.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import torch
from torch import nn

import rnnkit

FULL = dict(T=50, N=32, hidden=(128, 512), warmup=2, repeats=7, mm=2048, steps=(100, 100_000))
QUICK = dict(T=10, N=8, hidden=(32,), warmup=1, repeats=3, mm=512, steps=(100, 1_000))
MEMORY_TARGET = 1.1


class LSTMCellLoop(nn.Module):
    """The plain PyTorch way: a Python loop over ``torch.nn.LSTMCell``."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (T, N, D) -> (T, N, H)
        h = c = x.new_zeros(x.size(1), self.cell.hidden_size)
        outputs = []
        for x_t in x:
            h, c = self.cell(x_t, (h, c))
            outputs.append(h)
        return torch.stack(outputs)


class Fused(nn.Module):
    """``torch.nn.LSTM`` / ``torch.nn.GRU`` returning the output sequence only."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


# (name, family, gates G, factory(D, H)); the fused kernel of each family is the reference.
MODELS = [
    ("rnnkit Sequencer(FastLSTM)", "lstm", 4, lambda d, h: rnnkit.Sequencer(rnnkit.FastLSTM(d, h))),
    ("rnnkit Sequencer(LSTM)", "lstm", 4, lambda d, h: rnnkit.Sequencer(rnnkit.LSTM(d, h))),
    ("rnnkit Sequencer(GRU)", "gru", 3, lambda d, h: rnnkit.Sequencer(rnnkit.GRU(d, h))),
    (
        "rnnkit Sequencer(GRU, reset_after)",
        "gru",
        3,
        lambda d, h: rnnkit.Sequencer(rnnkit.GRU(d, h, reset_after=True)),
    ),
    ("torch.nn.LSTMCell loop", "lstm", 4, LSTMCellLoop),
    ("torch.nn.LSTM (fused)", "lstm", 4, lambda d, h: Fused(nn.LSTM(d, h))),
    ("torch.nn.GRU (fused)", "gru", 3, lambda d, h: Fused(nn.GRU(d, h))),
]
FUSED = {"lstm": "torch.nn.LSTM (fused)", "gru": "torch.nn.GRU (fused)"}


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def matmul_peak(n: int, warmup: int, repeats: int) -> float:
    """float32 FLOP/s of the fastest ``(n, n) @ (n, n)`` product: the machine's practical peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for i in range(warmup + repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        if i >= warmup:
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def train_step(model: nn.Module, x: torch.Tensor) -> None:
    for p in model.parameters():
        p.grad = None
    model(x).sum().backward()


def throughput(cfg: dict, peak: float) -> list[dict]:
    T, N = cfg["T"], cfg["N"]
    rows = []
    for H in cfg["hidden"]:
        D = H
        x = torch.randn(T, N, D)
        models = []
        for _name, _family, _gates, factory in MODELS:
            torch.manual_seed(0)
            model = factory(D, H).train()
            for _ in range(cfg["warmup"]):
                train_step(model, x)
            models.append(model)
        # Round-robin over the models, so that a change in machine load hits them alike.
        times = [[] for _ in models]
        for _ in range(cfg["repeats"]):
            for model, ts in zip(models, times):
                start = time.perf_counter()
                train_step(model, x)
                ts.append(time.perf_counter() - start)
        measured = {}
        for (name, family, gates, _factory), ts in zip(MODELS, times):
            seconds = statistics.median(ts)
            flops = 3 * T * 2 * N * (D + H) * gates * H  # forward + backward ~ 3x forward
            measured[name] = dict(name=name, family=family, H=H, seconds=seconds,
                                  tokens=T * N / seconds, flops=flops / seconds)  # fmt: skip
        for m in measured.values():
            m["ratio"] = m["tokens"] / measured[FUSED[m["family"]]]["tokens"]
            m["peak_fraction"] = m["flops"] / peak
            rows.append(m)
    return rows


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def memory_probe(steps: int, mode: str) -> dict:
    """Run in a fresh process: step an eval() FastLSTM ``steps`` times, outputs discarded."""
    torch.manual_seed(0)
    lstm = rnnkit.FastLSTM(32, 32).eval()  # H = 32
    x = torch.randn(4, 32)  # (N, D)
    grad = torch.no_grad() if mode == "no_grad" else contextlib.nullcontext()
    with grad:
        for _ in range(10):  # warm-up: allocator pools, lazily built state
            lstm(x)
        before = max_rss_kib()
        tracemalloc.start()
        for _ in range(steps):
            lstm(x)
        gc.collect()
        retained, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    after = max_rss_kib()
    return dict(peak_rss_kib=after, growth_kib=after - before,
                traced_kib=traced_peak / 1024, retained_kib=retained / 1024)  # fmt: skip


def run_probe(steps: int, mode: str) -> dict:
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "benchmarks.step_modules", "--memory-probe", str(steps), mode]
    out = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def memory(cfg: dict) -> list[dict]:
    rows = []
    short, long = cfg["steps"]
    for mode in ("no_grad", "eval_grad"):
        a, b = run_probe(short, mode), run_probe(long, mode)
        rows.append(dict(mode=mode, short=short, long=long, a=a, b=b,
                         ratio=b["peak_rss_kib"] / a["peak_rss_kib"]))  # fmt: skip
    return rows


def render(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    return "\n".join(line.rstrip() for line in lines + [fmt.format(*r) for r in rows])


def report(cfg: dict, peak: float, speed: list[dict], mem: list[dict], markdown: bool) -> str:
    title = (lambda s: f"\n### {s}\n") if markdown else (lambda s: f"\n{s}\n{'=' * len(s)}")
    bullet = "- " if markdown else ""
    machine = [
        f"{bullet}CPU: {cpu_model()} ({os.cpu_count()} logical cores)",
        f"{bullet}torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"Python {platform.python_version()}; rnnkit {rnnkit.__version__}",
        f"{bullet}float32 matmul peak ({cfg['mm']}x{cfg['mm']} torch.mm): {peak / 1e9:.1f} GFLOP/s",
        f"{bullet}T={cfg['T']}, N={cfg['N']}, D=H; median of {cfg['repeats']} after "
        f"{cfg['warmup']} warm-up",
    ]
    speed_rows = [
        [r["name"], str(r["H"]), f"{r['tokens']:,.0f}", f"{r['ratio']:.2f}",
         f"{r['flops'] / 1e9:.2f}", f"{100 * r['peak_fraction']:.1f}%"]
        for r in speed
    ]  # fmt: skip
    mem_rows = []
    for r in mem:
        for steps, m in ((r["short"], r["a"]), (r["long"], r["b"])):
            mem_rows.append([r["mode"], f"{steps:,}", f"{m['peak_rss_kib'] / 1024:.1f}",
                             f"{m['growth_kib'] / 1024:.2f}", f"{m['traced_kib']:.1f}",
                             f"{m['retained_kib']:.1f}"])  # fmt: skip
    ratios = [
        f"{bullet}{r['mode']}: peak RSS {r['long']:,} / {r['short']:,} steps = {r['ratio']:.3f} "
        f"({'ok' if r['ratio'] <= MEMORY_TARGET else 'ABOVE'} target <= {MEMORY_TARGET})"
        for r in mem
    ]
    speed_headers = ["model", "H", "tokens/s", "ratio vs fused", "GFLOP/s", "of peak"]
    mem_headers = ["mode", "steps", "peak RSS MiB", "RSS growth MiB", "tracemalloc peak KiB",
                   "retained KiB"]  # fmt: skip
    return "\n".join([
        title("Machine"), *machine,
        title("Training throughput (forward + backward)"), render(speed_headers, speed_rows, markdown),
        title("Evaluation memory: FastLSTM(32, 32), N=4, eval()"), render(mem_headers, mem_rows, markdown),
        "", *ratios,
    ])  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    parser.add_argument(
        "--memory-probe", nargs=2, metavar=("STEPS", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.memory_probe:
        steps, mode = args.memory_probe
        print(json.dumps(memory_probe(int(steps), mode)))
        return
    cfg = QUICK if args.quick else FULL
    mem = memory(cfg)  # first, in subprocesses, before this process grows
    peak = matmul_peak(cfg["mm"], warmup=3, repeats=10)
    speed = throughput(cfg, peak)
    print(report(cfg, peak, speed, mem, args.markdown))


if __name__ == "__main__":
    main()
