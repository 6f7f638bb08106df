"""A bidirectional tagger: ``SeqBRNN`` tags every token of right-padded sentences.

Each token's tag names its two neighbours, the previous token and the next one (``0`` past
either end of the sentence), so it depends on the past and on the future. A ``SeqBRNN``
runs one LSTM forwards and one backwards over the sentence and concatenates their outputs
at every step (``merge=JoinTable(-1)``); with ``maskzero=True`` both directions skip the
padding, so the backward LSTM starts at each sentence's own last token. The loss and the
accuracy count real tokens only. With ``--unidirectional`` the same tagger has a forward
``SeqLSTM`` only, which cannot see the next token: compare the two accuracies.

    python examples/bidirectional_tagger.py [--iterations 300] [--vocab 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import rnnkit


def make_batch(n: int, max_len: int, vocab: int):
    """Right-padded tokens ``(T, N)`` in ``1..vocab`` (0 = padding) and their tags ``(T, N)``."""
    lengths = torch.randint(2, max_len + 1, (n,))
    tokens = torch.randint(1, vocab + 1, (max_len, n))
    tokens[torch.arange(max_len).unsqueeze(1) >= lengths] = 0  # pad at the end
    padded = nn.functional.pad(tokens, (0, 0, 1, 1))  # (T + 2, N): a 0 before and after
    tags = padded[:-2] * (vocab + 1) + padded[2:]  # (previous, next) as one class
    return tokens, tags


class Tagger(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, bidirectional: bool) -> None:
        super().__init__()
        self.emb = rnnkit.LookupTableMaskZero(vocab + 1, embed)  # 0 -> a zero row
        if bidirectional:
            self.rnn = rnnkit.SeqBRNN(embed, hidden, merge=rnnkit.JoinTable(-1), maskzero=True)
        else:
            self.rnn = rnnkit.SeqLSTM(embed, 2 * hidden, maskzero=True)  # as many outputs
        self.out = nn.Linear(2 * hidden, (vocab + 1) ** 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (T, N) -> (T, N, C)
        return self.out(self.rnn(self.emb(tokens)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=8, help="longest sentence (>= 2)")
    parser.add_argument("--vocab", type=int, default=4, help="token types (1..vocab)")
    parser.add_argument("--hidden-size", type=int, default=32, help="per direction")
    parser.add_argument("--unidirectional", action="store_true", help="a forward LSTM only")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op CPU threads (a model this small gains nothing from more)",
    )
    args = parser.parse_args(argv)
    if args.max_len < 2:
        parser.error(f"--max-len must be at least 2 (the shortest sentence), got {args.max_len}")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    model = Tagger(args.vocab, 16, args.hidden_size, bidirectional=not args.unidirectional)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for _ in range(args.iterations):
        tokens, tags = make_batch(args.batch_size, args.max_len, args.vocab)
        real = tokens != 0  # (T, N): the loss is taken on real tokens only
        loss = nn.functional.cross_entropy(model(tokens)[real], tags[real])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    model.eval()
    tokens, tags = make_batch(500, args.max_len, args.vocab)
    real = tokens != 0
    with torch.no_grad():
        predicted = model(tokens).argmax(-1)  # (T, N)
    accuracy = (predicted[real] == tags[real]).float().mean().item()
    kind = "forward-only LSTM" if args.unidirectional else "SeqBRNN"
    first, last = sum(losses[:20]) / len(losses[:20]), sum(losses[-20:]) / len(losses[-20:])
    print(f"bidirectional_tagger: {kind} tagging accuracy {accuracy:.1%} on the "
          f"{int(real.sum())} tokens of 500 fresh sentences (chance {1 / args.vocab ** 2:.1%}), "
          f"loss {first:.3f} -> {last:.3f}, {time.perf_counter() - start:.1f}s")  # fmt: skip
    return {"accuracy": accuracy, "first_loss": first, "last_loss": last}


if __name__ == "__main__":
    main()
