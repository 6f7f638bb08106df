"""Padded batches with PTB's real sentence lengths: MaskZero vs TrimZero vs the packed fused path.

    python -m benchmarks.masking [--quick] [--data-dir ../shared/data/ptb]

Batches of N sentences drawn from Penn Treebank's training set (lengths in tokens, with
``<eos>``), left-padded with zero rows to the longest sentence of the batch (the original
package's convention), features random and non-zero on real steps. Each model runs forward +
backward of the output sum; the figure is real (non-padding) tokens per second, median of
repeats, all models interleaved in one run:

- ``Sequencer(FastLSTM(D, H).mask_zero(1))``: every row computed, padded rows zeroed;
- ``Sequencer(FastLSTM(D, H).trim_zero(1))``: only the non-padding rows computed;
- ``SeqLSTM(D, H, maskzero=True)``: the fused kernel's packed-sequence path.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import rnnkit

DEFAULT_PTB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptb"


def sentence_lengths(data_dir: Path) -> np.ndarray:
    path = data_dir / "ptb.train.txt"
    if not path.is_file():
        raise SystemExit(f"benchmarks.masking: {path} not found (give --data-dir)")
    with open(path, encoding="utf-8") as f:
        return np.array([len(line.split()) + 1 for line in f if line.strip()])


def padded_batch(lengths: np.ndarray, n: int, d: int, rng: np.random.Generator) -> torch.Tensor:
    chosen = rng.choice(lengths, size=n)
    T = int(chosen.max())
    x = torch.randn(T, n, d)
    for row, length in enumerate(chosen):
        x[: T - length, row] = 0  # left padding
    return x


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_PTB)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    lengths = sentence_lengths(args.data_dir)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"PTB train sentence lengths: mean {lengths.mean():.1f}, median {np.median(lengths):.0f}, "
        f"max {lengths.max()} tokens ({len(lengths)} sentences)"
    )
    rng = np.random.default_rng(0)
    sizes = [(32, 64, 64)] if args.quick else [(64, 128, 128), (64, 512, 512)]
    repeats = 3 if args.quick else 15
    print(
        "| N | D = H | padding | MaskZero tok/s | TrimZero tok/s | SeqLSTM(maskzero) tok/s | Trim / Mask | packed / Mask |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, d, h in sizes:
        torch.manual_seed(0)
        base = rnnkit.FastLSTM(d, h)
        models = {
            "mask": rnnkit.Sequencer(rnnkit.FastLSTM(d, h).mask_zero(1)),
            "trim": rnnkit.Sequencer(rnnkit.FastLSTM(d, h).trim_zero(1)),
            "packed": rnnkit.SeqLSTM.from_fast_lstm(base, maskzero=True),
        }
        batches = [padded_batch(lengths, n, d, rng) for _ in range(4)]
        times = {k: [] for k in models}
        for i in range(repeats + 2):
            x = batches[i % len(batches)]
            for name, model in models.items():
                t0 = time.perf_counter()
                model(x).sum().backward()
                dt = time.perf_counter() - t0
                if i >= 2:
                    times[name].append(dt / int((x != 0).any(2).sum()))
        rate = {k: 1.0 / statistics.median(v) for k, v in times.items()}
        pad = 1 - np.mean([float((b != 0).any(2).float().mean()) for b in batches])
        print(
            f"| {n} | {d} | {pad:.0%} | {rate['mask']:,.0f} | {rate['trim']:,.0f} | "
            f"{rate['packed']:,.0f} | {rate['trim'] / rate['mask']:.2f} | {rate['packed'] / rate['mask']:.2f} |"
        )


if __name__ == "__main__":
    main()
