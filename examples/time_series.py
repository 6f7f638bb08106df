"""Time-series regression: an LSTM predicts the next value of a long noisy sine wave.

The series is cut into ``--batch-size`` parallel rows (contiguous stretches) and walked in
chunks of ``--chunk`` steps, as a language model walks its text. ``remember('both')`` makes
each chunk start from the state the previous one ended in, and ``rho`` (the ``FastLSTM``'s
truncation) lets gradients flow back at most ``--rho`` steps inside a chunk: the first
``chunk - rho`` steps of every call run without a graph, so memory is bounded by ``rho``.
``forget()`` restarts the rows at each epoch.

The last fifth of the series is held out. The model, run over the whole series in
evaluation mode, is scored there against two baselines: repeating the last value, and the
noise itself (no predictor can beat the noise on the targets).

    python examples/time_series.py [--epochs 15] [--chunk 40] [--rho 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

import rnnkit


def noisy_sine(length: int, period: float, noise: float) -> torch.Tensor:
    """``(length,)`` values ``sin(2 pi t / period)`` plus Gaussian noise of std ``noise``."""
    t = torch.arange(length, dtype=torch.float32)
    return torch.sin(2 * math.pi * t / period) + noise * torch.randn(length)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=4000, help="values in the series")
    parser.add_argument("--period", type=float, default=25.0, help="steps per sine period")
    parser.add_argument("--noise", type=float, default=0.1, help="noise std")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=8, help="parallel rows")
    parser.add_argument("--chunk", type=int, default=40, help="steps per call")
    parser.add_argument("--rho", type=int, default=10, help="BPTT steps inside a chunk")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op CPU threads (a model this small gains nothing from more)",
    )
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    series = noisy_sine(args.length, args.period, args.noise)
    n_train = args.length * 4 // 5
    rows = n_train // args.batch_size
    if rows < 2:
        parser.error(f"--length {args.length} is too short for --batch-size {args.batch_size}")
    train = series[: rows * args.batch_size].view(args.batch_size, rows).T  # (rows, N)

    model = rnnkit.Sequencer(nn.Sequential(
        rnnkit.FastLSTM(1, args.hidden_size, rho=args.rho), nn.Linear(args.hidden_size, 1),
    )).remember("both")  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for _ in range(args.epochs):
        model.forget()  # every row starts again from its beginning
        for i in range(0, rows - 1, args.chunk):
            chunk = train[i : i + args.chunk + 1].unsqueeze(-1)  # (T + 1, N, 1)
            loss = nn.functional.mse_loss(model(chunk[:-1]), chunk[1:])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    model.eval()  # forgets; the evaluation state is kept without a graph
    with torch.no_grad():
        predicted = model(series[:-1].view(-1, 1, 1)).view(-1)  # prediction of series[1:]
    target, held_out = series[1:], slice(n_train - 1, None)
    rmse = (predicted[held_out] - target[held_out]).pow(2).mean().sqrt().item()
    repeat = (series[:-1][held_out] - target[held_out]).pow(2).mean().sqrt().item()
    first, last = sum(losses[:10]) / len(losses[:10]), sum(losses[-10:]) / len(losses[-10:])
    print(f"time_series: held-out RMSE {rmse:.3f} (repeat-last-value {repeat:.3f}, noise "
          f"{args.noise:.3f}) on {args.length - n_train} steps, MSE {first:.3f} -> {last:.3f}, "
          f"{time.perf_counter() - start:.1f}s")  # fmt: skip
    return {"rmse": rmse, "baseline_rmse": repeat, "first_loss": first, "last_loss": last}


if __name__ == "__main__":
    main()
