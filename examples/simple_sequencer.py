"""The original package's "simple sequencer network", in rnnkit.

A stacked step model — a ``Recurrent`` RNN over word embeddings, a ``FastLSTM``, a linear
decoder and a log-softmax — wrapped in one ``Sequencer`` learns to predict the next item of
a generated sequence (the numbers 1..10 repeated, each batch row at its own offset), trained
by truncated BPTT with ``remember('both')`` and ``SequencerCriterion``. The loss falls to
near zero in well under a minute on a laptop CPU.

    python examples/simple_sequencer.py [--iterations 1500] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from tqdm import tqdm

import rnnkit


def make_stream(length: int, batch_size: int, n_classes: int) -> torch.Tensor:
    """``(length, N)`` indices in ``1..n_classes`` counting up, each row from its own offset."""
    offsets = torch.randint(n_classes, (batch_size,))
    steps = torch.arange(length).unsqueeze(1)
    return (steps + offsets) % n_classes + 1


def build_model(n_classes: int, hidden_size: int, rho: int) -> nn.Module:
    return rnnkit.Sequencer(
        nn.Sequential(
            rnnkit.Recurrent(
                hidden_size, nn.Embedding(n_classes + 1, hidden_size),
                nn.Linear(hidden_size, hidden_size), nn.Sigmoid, rho=rho,
            ),
            rnnkit.FastLSTM(hidden_size, hidden_size, rho=rho),
            nn.Linear(hidden_size, n_classes + 1),
            nn.LogSoftmax(dim=-1),
        )
    )  # fmt: skip


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rho", type=int, default=5, help="BPTT steps per update")
    parser.add_argument("--hidden-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    n_classes = 10
    model = build_model(n_classes, args.hidden_size, args.rho)
    model.remember("both")  # carry the state from one chunk of the stream to the next
    criterion = rnnkit.SequencerCriterion(nn.NLLLoss(), size_average=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    stream = make_stream(args.iterations * args.rho + 1, args.batch_size, n_classes)

    print(model)
    start, smoothed = time.perf_counter(), None
    bar = tqdm(range(args.iterations), desc="simple sequencer", unit="it")
    for it in bar:
        chunk = stream[it * args.rho : (it + 1) * args.rho + 1]
        inputs, targets = chunk[:-1], chunk[1:]  # (rho, N): predict the next item
        loss = criterion(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        smoothed = loss.item() if smoothed is None else 0.9 * smoothed + 0.1 * loss.item()
        bar.set_postfix(loss=f"{smoothed:.4f}", refresh=False)
        if it % max(args.iterations // 10, 1) == 0 or it == args.iterations - 1:
            bar.write(f"iteration {it:4d}  NLL {loss.item():.4f}")
    bar.close()

    model.eval()
    with torch.no_grad():
        test = make_stream(21, 4, n_classes)
        predicted = model(test[:-1]).argmax(-1)
        accuracy = (predicted == test[1:]).float().mean().item()
    print(
        f"done in {time.perf_counter() - start:.1f}s: final NLL {smoothed:.4f}, "
        f"next-item accuracy on a fresh stream {accuracy:.1%}"
    )
    return smoothed


if __name__ == "__main__":
    main()
