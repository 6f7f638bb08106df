"""Training throughput of rnnkit's fused sequence layers next to torch.nn's, and maskzero.

    python -m benchmarks.seq_layers [--quick] [--markdown] [--device cpu|cuda]

Throughput: tokens/s = T*N / (median time of one forward + backward of ``output.sum()``,
after warm-up), input size D = H, for ``SeqLSTM``, ``SeqGRU`` and ``SeqLSTMP`` (projection
R = H/2) and, measured in the same run, ``torch.nn.LSTM``, ``torch.nn.GRU`` and
``torch.nn.LSTM(proj_size=H/2)``; ``ratio`` is ours over torch's tokens/s. Achieved FLOP/s
counts the matmuls only: forward per step ``2*N*(D+H)*4H`` (LSTM), ``2*N*(D+H)*3H`` (GRU),
``2*N*(D+R)*4H + 2*N*H*R`` (LSTMP); forward + backward ~3x that; given as a fraction of the
float32 matmul peak measured in the same run (the best of a large ``torch.mm``, timed before
and after the layers).

Masking: a right-padded batch (lengths uniform in 1..T, ~50% padding) through
``SeqLSTM(maskzero=True)`` (packed kernel) vs its step twin
``Sequencer(FastLSTM(...).mask_zero(1))`` on the same padded batch (target speed-up >= 1.5x),
and vs ``SeqLSTM`` on an unpadded batch of the same shape.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time

import torch
from torch import nn

import rnnkit

FULL = dict(shapes=((50, 32, 128), (50, 32, 512), (100, 64, 1024)), mask=(50, 32, 512),
            warmup=2, repeats=7, mm=2048)  # fmt: skip
QUICK = dict(shapes=((10, 8, 32), (10, 8, 64)), mask=(10, 8, 32), warmup=1, repeats=3, mm=512)
MASK_TARGET = 1.5


class OutputOnly(nn.Module):
    """``torch.nn.LSTM`` / ``torch.nn.GRU`` returning the output sequence only."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


def lstm_flops(N: int, D: int, H: int) -> int:
    return 2 * N * (D + H) * 4 * H


def gru_flops(N: int, D: int, H: int) -> int:
    return 2 * N * (D + H) * 3 * H


def lstmp_flops(N: int, D: int, H: int) -> int:
    R = H // 2
    return 2 * N * (D + R) * 4 * H + 2 * N * H * R


# (family, ours, torch's, forward matmul FLOPs per step); factories take (D, H).
FAMILIES = [
    ("LSTM", lambda d, h: rnnkit.SeqLSTM(d, h), lambda d, h: OutputOnly(nn.LSTM(d, h)),
     lstm_flops),
    ("GRU", lambda d, h: rnnkit.SeqGRU(d, h), lambda d, h: OutputOnly(nn.GRU(d, h)), gru_flops),
    ("LSTMP", lambda d, h: rnnkit.SeqLSTMP(d, h, h // 2),
     lambda d, h: OutputOnly(nn.LSTM(d, h, proj_size=h // 2)), lstmp_flops),
]  # fmt: skip


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def seconds(fn, warmup: int, repeats: int, device: torch.device, best: bool = False) -> float:
    """Median (or best) wall time of ``fn`` after ``warmup`` calls."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times) if best else statistics.median(times)


def matmul_peak(n: int, cfg: dict, device: torch.device) -> float:
    """float32 FLOP/s of the fastest ``(n, n) @ (n, n)`` product: the practical peak."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = seconds(lambda: torch.mm(a, b), cfg["warmup"], 3 * cfg["repeats"], device, best=True)
    return 2 * n**3 / best


def train_step(model: nn.Module, x: torch.Tensor) -> None:
    for p in model.parameters():
        p.grad = None
    model(x).sum().backward()


def throughput(cfg: dict, device: torch.device) -> list[dict]:
    rows = []
    for T, N, H in cfg["shapes"]:
        x = torch.randn(T, N, H, device=device)
        for family, ours, theirs, flops_per_step in FAMILIES:
            flops = 3 * T * flops_per_step(N, H, H)  # forward + backward ~ 3x forward
            measured = []
            for name, factory in ((f"rnnkit Seq{family}", ours), (f"torch.nn {family}", theirs)):
                torch.manual_seed(0)
                model = factory(H, H).to(device).train()
                step = lambda m=model, x=x: train_step(m, x)  # noqa: E731
                s = seconds(step, cfg["warmup"], cfg["repeats"], device)
                measured.append(dict(name=name, T=T, N=N, H=H, ms=1e3 * s, tokens=T * N / s,
                                     flops=flops / s))  # fmt: skip
            measured[0]["ratio"] = measured[0]["tokens"] / measured[1]["tokens"]
            measured[1]["ratio"] = 1.0
            rows += measured
    return rows


def masking(cfg: dict, device: torch.device) -> dict:
    T, N, H = cfg["mask"]
    torch.manual_seed(0)
    lengths = torch.randint(1, T + 1, (N,))
    valid = (torch.arange(T).unsqueeze(1) < lengths).to(device)  # (T, N), right padding
    full = torch.randn(T, N, H, device=device)
    padded = full * valid.unsqueeze(2)
    seq = rnnkit.SeqLSTM(H, H, maskzero=True).to(device).train()
    twin = rnnkit.Sequencer(seq.to_fast_lstm()).train()  # FastLSTM(...).mask_zero(1)
    plain = rnnkit.SeqLSTM(H, H).to(device).train()
    plain.load_state_dict(seq.state_dict())
    args = cfg["warmup"], cfg["repeats"], device
    ms = dict(
        masked=1e3 * seconds(lambda: train_step(seq, padded), *args),
        twin=1e3 * seconds(lambda: train_step(twin, padded), *args),
        unpadded=1e3 * seconds(lambda: train_step(plain, full), *args),
    )
    return dict(T=T, N=N, H=H, padding=1 - float(valid.float().mean()), ms=ms,
                vs_twin=ms["twin"] / ms["masked"], vs_unpadded=ms["unpadded"] / ms["masked"])  # fmt: skip


def machine(device: torch.device) -> str:
    parts = [f"CPU {cpu_model()}", f"torch {torch.__version__}",
             f"{torch.get_num_threads()} threads"]  # fmt: skip
    if device.type == "cuda":
        parts.append(f"GPU {torch.cuda.get_device_name(device)}")
    return ", ".join(parts)


def report(rows: list[dict], mask: dict, peak: float, info: str, markdown: bool) -> str:
    lines = [f"machine: {info}", f"float32 matmul peak: {peak / 1e9:.1f} GFLOP/s", ""]
    head = ["model", "T", "N", "H", "ms/iter", "tokens/s", "ratio", "of peak"]
    cells = [[r["name"], r["T"], r["N"], r["H"], f"{r['ms']:.2f}", f"{r['tokens']:,.0f}",
              f"{r['ratio']:.2f}", f"{100 * r['peak_fraction']:.1f}%"] for r in rows]  # fmt: skip
    if markdown:
        lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in cells]
    else:
        widths = [max(len(str(c)) for c in col) for col in zip(head, *cells)]
        for row in [head, *cells]:
            lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    m = mask["ms"]
    verdict = "meets" if mask["vs_twin"] >= MASK_TARGET else "BELOW"
    lines += [
        "",
        f"maskzero, right padding (T={mask['T']}, N={mask['N']}, H={mask['H']}, "
        f"{100 * mask['padding']:.0f}% padding), ms per forward+backward:",
        f"  SeqLSTM(maskzero=True), padded batch:            {m['masked']:.2f}",
        f"  Sequencer(FastLSTM.mask_zero(1)), padded batch:  {m['twin']:.2f}",
        f"  SeqLSTM, unpadded batch of the same shape:       {m['unpadded']:.2f}",
        f"  speed-up vs the step twin: {mask['vs_twin']:.2f}x ({verdict} the "
        f"{MASK_TARGET}x target); vs unpadded SeqLSTM: {mask['vs_unpadded']:.2f}x",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    device = torch.device(args.device)
    first_peak = matmul_peak(cfg["mm"], cfg, device)
    rows = throughput(cfg, device)
    mask = masking(cfg, device)
    peak = max(first_peak, matmul_peak(cfg["mm"], cfg, device))  # before and after: the best
    for r in rows:
        r["peak_fraction"] = r["flops"] / peak
    print(report(rows, mask, peak, machine(device), args.markdown))


if __name__ == "__main__":
    main()
