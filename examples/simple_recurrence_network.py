"""The original package's "simple recurrence network": ``Recurrence`` inside a ``Sequencer``.

``Recurrence(module, output_size, n_input_dim)`` feeds ``module`` its own previous output:
``y[t] = module(x[t], y[t-1])``. With ``module`` = ``ParallelTable(Embedding, Linear)``
followed by ``CAddTable`` and a sigmoid, that is the simple RNN
``y[t] = sigmoid(E x[t] + W y[t-1] + b)`` of ``simple_recurrent_network.py``, but built from
a one-step function instead of a dedicated class. A ``Sequencer`` runs it over a whole
chunk of the stream per call, ``remember('both')`` carries the state from chunk to chunk,
and ``SequencerCriterion`` sums the loss over the steps.

The task is that of ``simple_recurrent_network.py``: the numbers 1..10, each said twice
(``1 1 2 2 …``), so the current input alone predicts at most half of the next items.

    python examples/simple_recurrence_network.py [--iterations 200] [--seq-len 5] [--seed 0]
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


def build_model(hidden_size: int) -> nn.Module:
    step = rnnkit.ParallelTable(
        nn.Embedding(N_CLASSES + 1, hidden_size),  # x[t]: (N,) indices -> (N, H)
        nn.Linear(hidden_size, hidden_size),       # y[t-1]: (N, H) -> (N, H)
        merge=nn.Sequential(rnnkit.CAddTable(), nn.Sigmoid()),
    )  # fmt: skip
    rnn = rnnkit.Recurrence(step, hidden_size, 0)  # n_input_dim 0: a batch of indices (N,)
    return rnnkit.Sequencer(
        nn.Sequential(rnn, nn.Linear(hidden_size, N_CLASSES + 1), nn.LogSoftmax(dim=-1))
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seq-len", type=int, default=5, help="steps per chunk (BPTT length)")
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

    model = build_model(args.hidden_size).remember("both")  # each chunk goes on from the last
    criterion = rnnkit.SequencerCriterion(nn.NLLLoss())  # summed over the steps, as the original
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    T = args.seq_len
    stream = make_stream(args.iterations * T + 1, args.batch_size, args.repeat)

    losses = []
    for it in range(args.iterations):
        chunk = stream[it * T : (it + 1) * T + 1]  # (T + 1, N)
        loss = criterion(model(chunk[:-1]), chunk[1:])  # (T, N, 11) against (T, N)
        optimizer.zero_grad()
        loss.backward()  # gradients stop at the chunk boundary: the carried state is detached
        optimizer.step()
        losses.append(loss.item() / T)

    model.eval()  # switching to evaluation forgets the training state
    test = make_stream(101, 16, args.repeat)
    with torch.no_grad():
        predicted = model(test[:-1]).argmax(-1)  # (100, 16)
    # the first step of a row cannot know where in its pair it is: score from step 1 on
    accuracy = (predicted[1:] == test[2:]).float().mean().item()
    first, last = sum(losses[:20]) / len(losses[:20]), sum(losses[-20:]) / len(losses[-20:])
    print(f"simple_recurrence_network: next-item accuracy {accuracy:.1%} on a fresh stream "
          f"(input alone: at most {max(args.repeat - 1, 1) / args.repeat:.0%}), "
          f"NLL {first:.3f} -> {last:.3f}, {time.perf_counter() - start:.1f}s")  # fmt: skip
    return {"accuracy": accuracy, "first_loss": first, "last_loss": last}


if __name__ == "__main__":
    main()
