"""Sequence-to-one: classify variable-length sequences in LEFT-padded, masked batches.

Token ``0`` is padding. ``LookupTableMaskZero`` turns it into a zero row, and a
``FastLSTM`` with ``mask_zero(1)`` outputs zeros at those rows and keeps its state at zero
there, so the padding in front of a short sequence changes nothing. With left padding,
every row's last real step is the last step of the batch: the classifier reads ``out[-1]``
(with right padding it would have to pick ``out[length - 1, n]`` row by row).

The data is synthetic: a sequence is 3 to ``--max-len`` random tokens, and its class is
given by its first token, so the LSTM must carry that token through sequences of
different lengths. A check at the end classifies one sequence alone, without padding, and
compares it with its scores in the padded batch.

    python examples/sequence_to_one.py [--iterations 300] [--max-len 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import rnnkit


def make_batch(n: int, max_len: int, vocab: int, n_classes: int):
    """Left-padded tokens ``(T, N)`` in ``1..vocab`` (0 = padding), labels ``(N,)``, lengths."""
    lengths = torch.randint(3, max_len + 1, (n,))
    tokens = torch.randint(1, vocab + 1, (max_len, n))
    tokens[torch.arange(max_len).unsqueeze(1) < max_len - lengths] = 0  # pad in front
    first = tokens[max_len - lengths, torch.arange(n)]  # each row's first real token
    return tokens, (first - 1) % n_classes, lengths


class Classifier(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.rnn = rnnkit.Sequencer(nn.Sequential(
            rnnkit.LookupTableMaskZero(vocab, embed),   # (N,) indices -> (N, E); 0 -> zeros
            rnnkit.FastLSTM(embed, hidden).mask_zero(1),
        ))  # fmt: skip
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (T, N) left-padded -> (N, C)
        return self.out(self.rnn(tokens)[-1])  # the last step is every row's last real step


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=10, help="longest sequence (>= 3)")
    parser.add_argument("--vocab", type=int, default=8, help="token types (1..vocab)")
    parser.add_argument("--classes", type=int, default=4)
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
    if args.max_len < 3:
        parser.error(f"--max-len must be at least 3 (the shortest sequence), got {args.max_len}")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    model = Classifier(args.vocab + 1, args.hidden_size, args.hidden_size, args.classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for _ in range(args.iterations):
        tokens, labels, _ = make_batch(args.batch_size, args.max_len, args.vocab, args.classes)
        loss = nn.functional.cross_entropy(model(tokens), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    model.eval()
    tokens, labels, lengths = make_batch(500, args.max_len, args.vocab, args.classes)
    with torch.no_grad():
        scores = model(tokens)  # (N, C)
        n = int(lengths.argmin())  # the most padded row, alone and unpadded
        alone = model(tokens[args.max_len - lengths[n] :, n : n + 1])[0]
    accuracy = (scores.argmax(1) == labels).float().mean().item()
    padding_effect = (alone - scores[n]).abs().max().item()
    first, last = sum(losses[:20]) / len(losses[:20]), sum(losses[-20:]) / len(losses[-20:])
    print(f"sequence_to_one: test accuracy {accuracy:.1%} (chance {1 / args.classes:.0%}) on "
          f"500 left-padded sequences of 3..{args.max_len} tokens, padding changes scores by "
          f"{padding_effect:.1e}, loss {first:.3f} -> {last:.3f}, "
          f"{time.perf_counter() - start:.1f}s")  # fmt: skip
    return {"accuracy": accuracy, "first_loss": first, "last_loss": last,
            "padding_effect": padding_effect}  # fmt: skip


if __name__ == "__main__":
    main()
