"""The original package's "simple recurrent network": a ``Recurrent`` RNN stepped by hand.

``Recurrent(start, input, feedback, transfer, rho)`` is the original's first step module:
``h[t] = sigmoid(input(x[t]) + feedback(h[t-1]))``. Here it is called once per time step,
with no ``Sequencer``: every iteration feeds it ``--rho`` steps of a long stream, sums the
losses of those steps and back-propagates through them (truncated BPTT; the state goes on
from one iteration to the next, and ``rho`` cuts the gradient at the last ``rho`` steps).

The stream counts 1..10 with every number said twice (``1 1 2 2 3 3 …``), each batch row
at its own offset. After a ``3`` the next item is ``3`` or ``4``: the current input alone
predicts at most half of the steps, so an accuracy near 100% shows the RNN uses its memory.

    python examples/simple_recurrent_network.py [--iterations 200] [--rho 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import rnnkit

N_CLASSES = 10  # items 1..10; index 0 is unused, as the Lua original's 1-based indices


def make_stream(length: int, batch_size: int, repeat: int) -> torch.Tensor:
    """``(length, N)`` items ``1..10`` counting up, each said ``repeat`` times, per-row offsets."""
    offsets = torch.randint(N_CLASSES * repeat, (batch_size,))
    steps = torch.arange(length).unsqueeze(1) + offsets  # (length, N)
    return (steps // repeat) % N_CLASSES + 1


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200, help="updates, rho steps each")
    parser.add_argument("--rho", type=int, default=5, help="BPTT steps per update")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="times each number is said")
    parser.add_argument("--lr", type=float, default=0.1)
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

    rnn = rnnkit.Recurrent(
        args.hidden_size,                                # start: a learned bias for h[0]
        nn.Embedding(N_CLASSES + 1, args.hidden_size),   # input: item index -> (N, H)
        nn.Linear(args.hidden_size, args.hidden_size),   # feedback: h[t-1] -> (N, H)
        nn.Sigmoid,                                      # transfer
        rho=args.rho,
    )  # fmt: skip
    model = nn.Sequential(rnn, nn.Linear(args.hidden_size, N_CLASSES + 1), nn.LogSoftmax(dim=-1))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    stream = make_stream(args.iterations * args.rho + 1, args.batch_size, args.repeat)

    losses = []
    for it in range(args.iterations):
        chunk = stream[it * args.rho : (it + 1) * args.rho + 1]  # (rho + 1, N)
        # one call = one time step; the state carries on from the previous iteration
        loss = sum(nn.functional.nll_loss(model(chunk[t]), chunk[t + 1]) for t in range(args.rho))
        optimizer.zero_grad()
        loss.backward()  # through the last rho steps only
        optimizer.step()
        losses.append(loss.item() / args.rho)

    model.eval()  # constant memory: only the last state is kept
    rnn.forget()
    test = make_stream(101, 16, args.repeat)
    with torch.no_grad():
        predicted = torch.stack([model(test[t]).argmax(-1) for t in range(100)])
    # the first step of a row cannot know where in its pair it is: score from step 1 on
    accuracy = (predicted[1:] == test[2:]).float().mean().item()
    first, last = sum(losses[:20]) / len(losses[:20]), sum(losses[-20:]) / len(losses[-20:])
    print(f"simple_recurrent_network: next-item accuracy {accuracy:.1%} on a fresh stream "
          f"(input alone: at most {max(args.repeat - 1, 1) / args.repeat:.0%}), NLL {first:.3f} -> {last:.3f}, "
          f"{time.perf_counter() - start:.1f}s")  # fmt: skip
    return {"accuracy": accuracy, "first_loss": first, "last_loss": last}


if __name__ == "__main__":
    main()
