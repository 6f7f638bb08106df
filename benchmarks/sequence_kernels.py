"""The flexible path against the fused kernels: issue 15's table in one run.

    python -m benchmarks.sequence_kernels [--quick] [--markdown] [--only SUBSTRING]

Training rows: forward + ``outputs.sum().backward()`` of ``x (T, N, D)``, ``D = H``, with
T=50, N=32 for H = 128, 512, 1024, and T=100, N=64, H=1024 for the built-in cells. Every
model of a shape is warmed up, then all are timed round-robin and each keeps its median;
``ratio`` is the fused PyTorch layer's median over ours (higher is better; 1.0 = as fast as
``torch.nn.LSTM``/``GRU``), both measured in the same process, seconds apart. ``peak`` is
the achieved matmul FLOP/s as a fraction of this machine's float32 matmul peak (the fastest
of several large ``torch.mm`` in the same run), counting the matrix products only
(forward ~1/3 of forward + backward). Then: inference (``no_grad`` forward), the masked
fused path, whole-sequence evaluation memory (fresh subprocesses) and the first-call cost.

``--device cuda`` runs every model on the GPU, where the peers ``torch.nn.LSTM``/``GRU`` are
cuDNN's kernels; each timing then waits for the GPU (``torch.cuda.synchronize``), and the
memory rows (process RSS) are left out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

import rnnkit
from benchmarks.hoist import PeepholeCell, _cpu_model, _stepping
from benchmarks.kernel_targets import TARGETS, mufuru_products, verdict

FULL = dict(shapes=[(50, 32, 128), (50, 32, 512), (50, 32, 1024), (100, 64, 1024)],
            warmup=2, repeats=5, mm=2048, mem=(20_000, 8, 64), first=256)  # fmt: skip
QUICK = dict(shapes=[(6, 4, 16)], warmup=1, repeats=2, mm=256, mem=(200, 2, 8), first=16)


def models(H: int, built_in_only: bool) -> dict[str, tuple[nn.Module, str, int]]:
    """name -> (model on (T, N, H), the fused peer's name, matmul FLOPs per step per row)."""
    lstm, gru = 2 * 2 * H * 4 * H, 2 * 2 * H * 3 * H  # forward, D = H
    cands = {
        "nn.LSTM": (nn.LSTM(H, H), "nn.LSTM", lstm),
        "nn.GRU": (nn.GRU(H, H), "nn.GRU", gru),
        "Sequencer(FastLSTM)": (rnnkit.Sequencer(rnnkit.FastLSTM(H, H)), "nn.LSTM", lstm),
        "Sequencer(LSTM) peepholes": (rnnkit.Sequencer(rnnkit.LSTM(H, H)), "nn.LSTM", lstm),
        "Sequencer(GRU)": (rnnkit.Sequencer(rnnkit.GRU(H, H)), "nn.GRU", gru),
    }
    if built_in_only:
        return cands
    cell = rnnkit.Recurrence(PeepholeCell(H, H), 2 * H, 1)
    cands.update({
        "Sequencer(GRU(p=0.25))": (rnnkit.Sequencer(rnnkit.GRU(H, H, p=0.25)), "nn.GRU", gru),
        "Sequencer(FastLSTM(batchnorm=True))": (
            rnnkit.Sequencer(rnnkit.FastLSTM(H, H, batchnorm=True)), "nn.LSTM", lstm),
        "Sequencer(MuFuRu)": (rnnkit.Sequencer(rnnkit.MuFuRu(H, H)), "nn.GRU",
                              mufuru_products(H, H, 8)),
        "Sequencer(Recurrence(user cell))": (rnnkit.Sequencer(cell), "nn.LSTM", lstm),
        "nn.LSTMCell loop": (CellLoop(H), "nn.LSTM", lstm),
    })  # fmt: skip
    return cands


class CellLoop(nn.Module):
    """What a PyTorch user writes by hand: a Python loop over ``nn.LSTMCell``."""

    def __init__(self, H: int) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(H, H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = c = x.new_zeros(x.size(1), self.cell.hidden_size)
        outputs = []
        for x_t in x.unbind(0):
            h, c = self.cell(x_t, (h, c))
            outputs.append(h)
        return torch.stack(outputs)


def _out(y):
    return y[0] if isinstance(y, tuple) else y


DEVICE = torch.device("cpu")  # set by --device


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, device=DEVICE)


def round_robin(fns: dict, warmup: int, repeats: int) -> dict[str, float]:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


def matmul_peak(n: int) -> float:
    a, b = _randn(n, n), _randn(n, n)
    a @ b  # warm-up: the first product pays for thread start-up and allocation
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * n**3 / best


def _timed(fn) -> float:
    _sync()
    start = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - start


def training_rows(cfg, peak, only) -> list[dict]:
    rows = []
    for T, N, H in cfg["shapes"]:
        torch.manual_seed(0)
        built_in_only = (T, N) != (50, 32) and H == 1024
        cands = {k: (m.to(DEVICE), peer, flops) for k, (m, peer, flops)
                 in models(H, built_in_only).items()
                 if k.startswith("nn.") and not k.endswith("loop") or only in k}  # fmt: skip
        x = _randn(T, N, H)

        def step(m, x=x):
            return lambda: _out(m(x)).sum().backward()

        med = round_robin({k: step(m) for k, (m, _, _) in cands.items()}, cfg["warmup"],
                          cfg["repeats"])  # fmt: skip
        for name, (_, peer, flops) in cands.items():
            if name.startswith("nn.") and not name.endswith("loop"):
                continue
            rows.append(dict(kind="train", model=name, T=T, N=N, H=H, ours_s=med[name],
                             peer=peer, peer_s=med[peer], ratio=med[peer] / med[name],
                             peak=3 * flops * T * N / med[name] / peak))  # fmt: skip
    return rows


def inference_rows(cfg, peak) -> list[dict]:
    rows = []
    for T, N, H in cfg["shapes"][1:3] or cfg["shapes"]:
        lstm = nn.LSTM(H, H).to(DEVICE)
        seq = rnnkit.Sequencer(rnnkit.FastLSTM(H, H)).to(DEVICE)
        x = _randn(T, N, H)
        with torch.no_grad():
            med = round_robin({"nn.LSTM": lambda m=lstm, x=x: m(x), "ours": lambda m=seq, x=x: m(x)},
                              cfg["warmup"], cfg["repeats"])  # fmt: skip
        rows.append(dict(kind="inference", model="Sequencer(FastLSTM) no_grad", T=T, N=N, H=H,
                         ours_s=med["ours"], peer="nn.LSTM", peer_s=med["nn.LSTM"],
                         ratio=med["nn.LSTM"] / med["ours"],
                         peak=2 * 2 * H * 4 * H * T * N / med["ours"] / peak))  # fmt: skip
    return rows


def masked_rows(cfg) -> list[dict]:
    """Left-padded batch, lengths uniform in 1..T: the fused layer against its step twin (which
    runs the same kernel now), against the twin stepping one call at a time (the comparison
    behind issue 15's 1.43x, measured when ``Sequencer`` always stepped), and against what a
    careful PyTorch user runs (``nn.LSTM`` on a ``PackedSequence``)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    T, N, H = cfg["shapes"][1] if len(cfg["shapes"]) > 1 else cfg["shapes"][0]
    torch.manual_seed(0)
    lengths = torch.randint(1, T + 1, (N,), device=DEVICE)
    valid = torch.arange(T, device=DEVICE).unsqueeze(1) >= (T - lengths)  # left padding
    x = _randn(T, N, H) * valid.unsqueeze(2)
    fused = rnnkit.SeqLSTM(H, H, maskzero=True).to(DEVICE)
    stepwise = rnnkit.Sequencer(fused.to_fast_lstm())
    stepping = rnnkit.Sequencer(_stepping(fused.to_fast_lstm()))
    torch_lstm = nn.LSTM(H, H).to(DEVICE)
    # The same real steps, right-padded, as pack_padded_sequence takes them.
    shift = (torch.arange(T, device=DEVICE).unsqueeze(1) + (T - lengths)) % T
    x_right = x.gather(0, shift.unsqueeze(2).expand(-1, -1, H))

    def torch_packed():
        packed = pack_padded_sequence(x_right, lengths.cpu(), enforce_sorted=False)
        out, _ = torch_lstm(packed)
        pad_packed_sequence(out, total_length=T)[0].sum().backward()

    med = round_robin({"fused": lambda: fused(x).sum().backward(),
                       "seq": lambda: stepwise(x).sum().backward(),
                       "stepping": lambda: stepping(x).sum().backward(), "torch": torch_packed},
                      cfg["warmup"], cfg["repeats"])  # fmt: skip
    row = dict(kind="masked", model="SeqLSTM(maskzero=True)", T=T, N=N, H=H,
               ours_s=med["fused"], peak=None)  # fmt: skip
    return [
        dict(row, peer="Sequencer(FastLSTM.mask_zero(1))", peer_s=med["seq"],
             ratio=med["seq"] / med["fused"]),  # the same kernel: 1.0 by construction
        dict(row, kind="masked vs stepping", peer="Sequencer(FastLSTM.mask_zero(1)) stepping",
             peer_s=med["stepping"], ratio=med["stepping"] / med["fused"]),
        dict(row, kind="masked vs torch", peer="nn.LSTM(PackedSequence)",
             peer_s=med["torch"], ratio=med["torch"] / med["fused"]),  # no target: context
    ]  # fmt: skip


_MEMORY_CHILD = """
import json, resource, sys, torch, rnnkit
kind, T, N, H = sys.argv[1], *map(int, sys.argv[2:5])
layer = rnnkit.SeqLSTM(H, H) if kind == "SeqLSTM" else rnnkit.Sequencer(rnnkit.FastLSTM(H, H))
layer.eval()
x = torch.randn(T, N, H)
layer(x[:3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = layer(x)  # no torch.no_grad()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth": (after - before) * 1024, "output": out.numel() * out.element_size(),
                  "graph": out.grad_fn is not None}))
"""


def memory_rows(cfg) -> list[dict]:
    rows = []
    T, N, H = cfg["mem"]
    for kind in ("SeqLSTM", "Sequencer(FastLSTM)"):
        run = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, kind, str(T), str(N), str(H)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        got = json.loads(run.stdout.strip().splitlines()[-1])
        rows.append(dict(kind="memory", model=f"{kind} eval()", T=T, N=N, H=H,
                         ratio=got["growth"] / got["output"], graph=got["graph"]))  # fmt: skip
    return rows


def first_call_row(H: int) -> dict:
    seq = rnnkit.Sequencer(rnnkit.FastLSTM(H, H)).to(DEVICE)
    first = _timed(lambda: seq(_randn(50, 16, H)).sum().backward())
    warm = _timed(lambda: seq(_randn(50, 16, H)).sum().backward())
    new_length = _timed(lambda: seq(_randn(73, 16, H)).sum().backward())
    return dict(kind="first call", model=f"Sequencer(FastLSTM({H}, {H}))", first_s=first,
                warm_s=warm, new_length_s=new_length * 50 / 73)  # fmt: skip


def show(rows: list[dict], markdown: bool) -> None:
    head = ["kind", "model", "T, N, H", "ours ms", "peer", "peer ms", "ratio", "target",
            "met", "matmul peak"]  # fmt: skip
    lines = []
    for r in rows:
        if r["kind"] == "first call":
            lines.append([r["kind"], r["model"], "", f"{r['first_s'] * 1e3:.0f}", "warm call",
                          f"{r['warm_s'] * 1e3:.0f}", "", "< 5 s, no recompilation",
                          verdict(r), f"new length (per 50 steps) {r['new_length_s'] * 1e3:.0f} ms"])  # fmt: skip
            continue
        target = TARGETS.get((r["kind"], r["model"], r["H"]))
        shape = f"{r['T']}, {r['N']}, {r['H']}"
        if r["kind"] == "memory":
            lines.append([r["kind"], r["model"], shape, "", "", "", f"{r['ratio']:.2f}x output",
                          "<= 2.5x", verdict(r), "graph kept" if r["graph"] else "no graph"])  # fmt: skip
            continue
        lines.append([r["kind"], r["model"], shape, f"{r['ours_s'] * 1e3:.1f}", r["peer"],
                      f"{r['peer_s'] * 1e3:.1f}", f"{r['ratio']:.2f}",
                      "" if target is None else f">= {target}", verdict(r),
                      "" if r["peak"] is None else f"{r['peak']:.0%}"])  # fmt: skip
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        for line in lines:
            print("  ".join(f"{c:<10}" if i != 1 else f"{c:<38}" for i, c in enumerate(line)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--only", default="", help="training rows whose name contains this")
    parser.add_argument("--device", default="cpu",
                        help="cpu (default) or cuda: the peers are then cuDNN's kernels")  # fmt: skip
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device on this machine")
    cfg = QUICK if args.quick else FULL
    peak = matmul_peak(cfg["mm"])
    print(f"CPU: {_cpu_model()}; {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"float32 matmul peak on {DEVICE.type} {peak / 1e9:.0f} GFLOP/s")  # fmt: skip
    if DEVICE.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(DEVICE)}: every model runs on it; the peers "
              f"nn.LSTM / nn.GRU are cuDNN's kernels")  # fmt: skip
    rows = training_rows(cfg, peak, args.only)
    if not args.only:
        rows += inference_rows(cfg, peak) + masked_rows(cfg)
        rows += memory_rows(cfg) if DEVICE.type == "cpu" else []
        rows.append(first_call_row(cfg["first"]))
    show(rows, args.markdown)


if __name__ == "__main__":
    main()
