"""Training throughput of ``rnnkit train`` with and without ``--precision bf16`` and ``--compile``.

    python -m benchmarks.lm_flags [--budget 30] [--runs fp32 bf16 compile bf16+compile]

Each run is the default character LM (embedding 64, 2 × 128 LSTM, batch 50, BPTT 50) on the
embedded corpus, seed 0, in its own ``rnnkit train`` process, one after the other, for
``--budget`` seconds of training. The corpus is made large enough (``--max-corpus-bytes``)
that no epoch ends, so no validation runs inside the budget. The figure is the run's own
``tokens_per_s`` (iterations × batch × BPTT / training seconds): for ``--compile`` it
includes the compilation, which happens during the first steps. The last training loss is
printed too, a check that the runs learn alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

RUNS = {
    "fp32": [],
    "bf16": ["--precision", "bf16"],
    "compile": ["--compile"],
    "bf16+compile": ["--precision", "bf16", "--compile"],
}
REPO = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))  # fmt: skip
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown CPU"


def run(name: str, budget: float, corpus_bytes: int, out: Path) -> dict:
    argv = [sys.executable, "-m", "rnnkit", "train", "--out-dir", str(out), "--overwrite",
            "--time-budget", str(budget), "--max-corpus-bytes", str(corpus_bytes),
            "--sample-length", "0", "--no-progress", "--seed", "0", *RUNS[name]]  # fmt: skip
    t = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"lm_flags: {name} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    log = json.loads((out / "log.json").read_text())
    s = log["summary"]
    return {"run": name, "iterations": s["iterations"], "train_s": s["elapsed_s"],
            "tokens_per_s": s["tokens_per_s"], "last_loss": log["history"]["train"][-1]["loss"],
            "wall_s": time.perf_counter() - t, "epochs": s["epochs_completed"]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lm_flags", description=__doc__)
    p.add_argument("--budget", type=float, default=30.0, help="seconds of training per run")
    p.add_argument("--corpus-bytes", type=int, default=5_000_000,
                   help="embedded-corpus size: large enough that no epoch ends in the budget")
    p.add_argument("--runs", nargs="+", choices=tuple(RUNS), default=list(RUNS),
                   help="which configurations, in this order")  # fmt: skip
    args = p.parse_args(argv)
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.runs:
            # one out-dir: --overwrite keeps the prepared corpus, so only the first run reads it
            rows.append(run(name, args.budget, args.corpus_bytes, Path(tmp) / "run"))
            r = rows[-1]
            print(f"{name}: {r['tokens_per_s']:,.0f} tokens/s ({r['iterations']} iterations in "
                  f"{r['train_s']:.1f} s; last loss {r['last_loss']:.3f}; wall {r['wall_s']:.0f} s)",
                  flush=True)  # fmt: skip
    base = rows[0]["tokens_per_s"]
    print(f"\n| run | tokens/s | vs {rows[0]['run']} | iterations | last train loss |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['run']} | {r['tokens_per_s']:,.0f} | {r['tokens_per_s'] / base:.2f}× | "
              f"{r['iterations']} | {r['last_loss']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
