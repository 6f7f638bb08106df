"""Training throughput of rnnkit's language model vs a plain PyTorch LM around torch.nn.LSTM.

    python -m benchmarks.lm_train [--quick]

Both models have the same sizes (embedding, 2 LSTM layers, linear decoder) and run the same
training step (cross-entropy, backward, gradient clipping by value, Adam) on the same
batches, interleaved in one run; prints tokens/s of each and the ratio rnnkit / plain.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models import LanguageModel


class PlainLM(nn.Module):
    """What a PyTorch user writes by hand: Embedding → nn.LSTM → Linear, state carried by hand."""

    def __init__(self, vocab_size: int, wordvec_size: int, rnn_size: int, num_layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, wordvec_size)
        self.lstm = nn.LSTM(wordvec_size, rnn_size, num_layers)
        self.decoder = nn.Linear(rnn_size, vocab_size)
        self.state = None

    def forward(self, tokens):
        out, state = self.lstm(self.embedding(tokens), self.state)
        self.state = tuple(s.detach() for s in state)
        return self.decoder(out)


def step_timer(model, batches):
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=2e-3)

    def step(i):
        inputs, targets = batches[i % len(batches)]
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_value_(params, 5.0)
        optimizer.step()
        return time.perf_counter() - t0

    return step


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    configs = [  # (vocab, wordvec, rnn, layers, T, N)
        (65, 64, 128, 2, 50, 50),  # torch-rnn's defaults, a char model
        (10000, 200, 200, 2, 20, 20),  # Zaremba et al.'s small PTB model
    ]
    repeats = 5 if args.quick else 30
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| model (V, E, H, layers, T, N) | rnnkit tok/s | plain nn.LSTM tok/s | ratio |")
    print("|---|---:|---:|---:|")
    for V, E, H, L, T, N in configs:
        torch.manual_seed(0)
        ours = LanguageModel(V, "lstm", E, H, L)
        plain = PlainLM(V, E, H, L)
        batches = [(torch.randint(V, (T, N)), torch.randint(V, (T, N))) for _ in range(4)]
        steps = {"rnnkit": step_timer(ours, batches), "plain": step_timer(plain, batches)}
        times = {k: [] for k in steps}
        for i in range(repeats + 3):
            for name, step in steps.items():  # interleaved: both see the same machine state
                dt = step(i)
                if i >= 3:
                    times[name].append(dt)
        rate = {k: T * N / statistics.median(v) for k, v in times.items()}
        print(
            f"| ({V}, {E}, {H}, {L}, {T}, {N}) | {rate['rnnkit']:,.0f} | {rate['plain']:,.0f} | {rate['rnnkit'] / rate['plain']:.3f} |"
        )


if __name__ == "__main__":
    main()
