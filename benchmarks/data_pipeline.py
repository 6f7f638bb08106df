"""Memory and speed of the data pipeline: ``rnnkit preprocess`` and ``rnnkit train`` on big texts.

    python -m benchmarks.data_pipeline [--sizes 20,200] [--levels char,word] [--workdir DIR] [--quick]

For each size (MB) a word-like text is generated once (Zipf-distributed words over 50,000
made-up types, lines of 4 to 24 words; deterministic, seed 0) and, at each level:

- ``rnnkit preprocess --input FILE --output-dir DIR --level L --no-progress``;
- ``rnnkit train --data FILE --level L --time-budget 5 --max-epochs 1 --no-progress
  --sample-length 0 --valid-frac F --test-frac F`` (``F`` = ``--eval-frac``, 0.005 by default:
  the final validation and test runs read every token of their split, which on 200 MB at
  the default 5 % would time the model, not the data; the training split is the rest).
  Word level adds ``--max-vocab 10000`` so that the model's ``(T, N, V)`` logits, not the
  data, stay the same size from one text to the next.

Each command runs in a fresh process; its peak resident memory is that process's own
``ru_maxrss`` (from ``os.wait4``), interpreter and torch included. Reported: peak RSS, wall
time, preprocessing throughput (text MB / wall seconds of the whole command, start-up
included), the throughput of the pipeline alone (``build_corpus`` timed inside this process,
without the start-up of Python and torch) and the bytes per token of the prepared files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnkit.data import build_corpus

from .seq_layers import cpu_model

ROOT = Path(__file__).resolve().parents[1]


def generate(path: Path, n_bytes: int, seed: int = 0, n_types: int = 50_000) -> Path:
    """A deterministic word-like text of exactly ``n_bytes`` ASCII bytes."""
    if path.is_file() and path.stat().st_size == n_bytes:
        return path
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    p = 1.0 / np.arange(1, 27)
    words: dict[str, None] = {}
    while len(words) < n_types:
        words["".join(rng.choice(letters, size=rng.integers(1, 10), p=p / p.sum()))] = None
    table = np.array(list(words), dtype=object)
    zipf = 1.0 / np.arange(1, n_types + 1) ** 1.05
    zipf /= zipf.sum()
    written = 0
    with open(path, "w", encoding="ascii") as f:
        while written < n_bytes:
            ids, lens = rng.choice(n_types, size=200_000, p=zipf), rng.integers(4, 25, size=20_000)
            ends = np.cumsum(lens)
            lines = [" ".join(table[ids[e - n : e]]) for e, n in zip(ends, lens) if e <= len(ids)]
            block = "\n".join(lines) + "\n"
            block = block[: n_bytes - written]
            f.write(block)
            written += len(block)
    return path


def measure(argv: list[str]) -> dict:
    """Run ``python -m rnnkit ARGV`` in a fresh process: rc, wall seconds, peak RSS (MiB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"rnnkit {' '.join(argv)} failed ({proc.returncode}):\n{output[-2000:]}")
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "output": output}


def bytes_per_token(folder: Path) -> tuple[float, str]:
    meta = json.loads((folder / "meta.json").read_text())
    size = sum((folder / f"{s}.npy").stat().st_size for s in ("train", "valid", "test"))
    return size / sum(meta["counts"].values()), meta["dtype"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,200", help="text sizes in MB (10^6 bytes)")
    parser.add_argument("--levels", default="char,word")
    parser.add_argument("--eval-frac", type=float, default=0.005)
    parser.add_argument("--workdir", default=None, help="keep the generated texts here")
    parser.add_argument("--quick", action="store_true", help="2 MB only: a smoke run")
    args = parser.parse_args()
    sizes = [2] if args.quick else [int(s) for s in args.sizes.split(",")]
    levels = args.levels.split(",")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rnnkit-bench-data-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"CPU {cpu_model()} ({os.cpu_count()} logical cores); workdir {work}\n")
    rows = []
    for mb in sizes:
        text = generate(work / f"text{mb}.txt", mb * 10**6)
        for level in levels:
            prep = work / f"prep{mb}{level}"
            extra = ["--max-vocab", "10000"] if level == "word" else []
            pre = measure(["preprocess", "--input", str(text), "--output-dir", str(prep),
                           "--level", level, "--no-progress", *extra])  # fmt: skip
            bpt, dtype = bytes_per_token(prep)
            start = time.perf_counter()
            build_corpus(text, level, work / "inproc", max_vocab=10000 if level == "word" else None)
            pipeline_s = time.perf_counter() - start
            frac = str(args.eval_frac)
            train = measure(["train", "--data", str(text), "--level", level, "--time-budget", "5",
                             "--max-epochs", "1", "--no-progress", "--sample-length", "0",
                             "--valid-frac", frac, "--test-frac", frac,
                             "--out-dir", str(work / f"run{mb}{level}"), *extra])  # fmt: skip
            rows.append((mb, level, pre, pipeline_s, bpt, dtype, train))
    print("| text | level | preprocess peak RSS | preprocess wall | MB/s (command) "
          "| MB/s (pipeline) | bytes/token (dtype) | train peak RSS | train wall |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mb, level, pre, pipeline_s, bpt, dtype, train in rows:
        print(f"| {mb} MB | {level} | {pre['peak_rss_mib']:.0f} MiB | {pre['wall_s']:.1f} s | "
              f"{mb / pre['wall_s']:.1f} | {mb / pipeline_s:.1f} | {bpt:.3f} ({dtype}) | "
              f"{train['peak_rss_mib']:.0f} MiB | {train['wall_s']:.1f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
