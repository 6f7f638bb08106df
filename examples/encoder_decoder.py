"""Encoder-decoder: one LSTM reads a digit sequence, another writes it out reversed.

The two are coupled by their state, as in the original's ``encoder-decoder-coupling``
example: after the encoder's ``Sequencer`` has read the source, ``get_state()`` gives its
``FastLSTM``'s ``(h, c)``, and ``set_state`` starts the decoder from it. The state stays
differentiable, so the decoder's loss trains the encoder too. Training uses teacher
forcing (the decoder reads ``GO`` and the true previous digits); at test time the decoder
is stepped by hand, one digit at a time, feeding back its own greedy (argmax) choice.

    python examples/encoder_decoder.py [--iterations 400] [--length 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import rnnkit

GO, DIGITS = 10, 10  # tokens 0..9 are digits, 10 starts the decoder


def build(embed: int, hidden: int):
    encoder = rnnkit.Sequencer(nn.Sequential(nn.Embedding(DIGITS, embed),
                                             rnnkit.FastLSTM(embed, hidden)))  # fmt: skip
    decoder = rnnkit.Sequencer(nn.Sequential(
        nn.Embedding(DIGITS + 1, embed), rnnkit.FastLSTM(embed, hidden), nn.Linear(hidden, DIGITS),
    ))  # fmt: skip
    return encoder, decoder


def teacher_forced(encoder, decoder, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Scores ``(T, N, 10)`` for ``target (T, N)``, the decoder reading GO and ``target[:-1]``."""
    encoder(source)  # (T, N) -> (T, N, H); we keep only the final state
    decoder.module.set_state(encoder.module.get_state())  # (h, c), each (N, H)
    go = torch.full_like(target[:1], GO)
    return decoder(torch.cat([go, target[:-1]]))


@torch.no_grad()
def greedy(encoder, decoder, source: torch.Tensor) -> torch.Tensor:
    """Decode ``len(source)`` digits ``(T, N)``, one step at a time, from the encoder's state."""
    encoder(source)
    step = decoder.module  # the Recursor around the decoder's layers: one call = one step
    step.forget()
    step.set_state(encoder.module.get_state())
    token, out = torch.full_like(source[0], GO), []
    for _ in range(len(source)):
        token = step(token).argmax(-1)  # (N, 10) -> (N,): the most likely digit, fed back
        out.append(token)
    return torch.stack(out)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--length", type=int, default=5, help="digits per sequence")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--embed-size", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=64)
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

    encoder, decoder = build(args.embed_size, args.hidden_size)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    losses = []
    for _ in range(args.iterations):
        source = torch.randint(DIGITS, (args.length, args.batch_size))  # (T, N)
        target = source.flip(0)  # reversed
        scores = teacher_forced(encoder, decoder, source, target)  # (T, N, 10)
        loss = nn.functional.cross_entropy(scores.flatten(0, 1), target.flatten())
        optimizer.zero_grad()
        loss.backward()  # reaches the encoder through the state
        nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        losses.append(loss.item())

    encoder.eval(), decoder.eval()
    source = torch.randint(DIGITS, (args.length, 500))
    decoded = greedy(encoder, decoder, source)
    right = decoded == source.flip(0)  # (T, N)
    digits, sequences = right.float().mean().item(), right.all(0).float().mean().item()
    first, last = sum(losses[:20]) / len(losses[:20]), sum(losses[-20:]) / len(losses[-20:])
    print(f"encoder_decoder: greedy decoding reverses {sequences:.1%} of 500 fresh "
          f"{args.length}-digit sequences exactly, digit accuracy {digits:.1%} (chance 10%), "
          f"loss {first:.3f} -> {last:.3f}, {time.perf_counter() - start:.1f}s")  # fmt: skip
    return {"accuracy": digits, "sequence_accuracy": sequences, "first_loss": first,
            "last_loss": last}  # fmt: skip


if __name__ == "__main__":
    main()
