"""NCE output layer vs the full softmax: one training step of a language model's output layer.

    python -m benchmarks.nce [--quick] [--device cpu]

For ``R = T·N`` hidden rows of size ``H`` and a vocabulary ``V``, each step is forward +
backward + SGD update of the output layer alone (the recurrent layers below it cost the
same either way):

- full softmax: ``nn.Linear(H, V)`` + ``F.cross_entropy`` (PyTorch's fused log-softmax/NLL),
  ``2·R·H·V`` forward FLOPs;
- ``NCEModule(H, V, unigrams, k)`` + ``NCECriterion`` with batch noise (one set of ``k`` noise
  words per step), ``2·R·H·(k + 1)`` forward FLOPs.

Figures: rows per second (median of repeats, both interleaved), the speed-up of NCE, and
each one's achieved FLOP/s (3× the forward FLOPs) as a fraction of this machine's float32
matmul peak, measured in the same run.

A second table times a whole training step (forward, backward, gradient clipping, Adam) of
``LanguageModel`` with the full softmax and with ``nce_k=25``, on Zaremba et al.'s small
PTB shape and with a 50,000-word vocabulary, interleaved: the end-to-end gain.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import NCECriterion, NCEModule
from rnnkit.models import LanguageModel

from .seq_layers import machine, matmul_peak, seconds


def full_softmax_step(layer: nn.Linear, h: torch.Tensor, target: torch.Tensor, lr: float):
    def step():
        layer.zero_grad(set_to_none=True)
        F.cross_entropy(layer(h), target).backward()
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(p.grad, alpha=-lr)

    return step


def nce_step(nce: NCEModule, h: torch.Tensor, target: torch.Tensor, lr: float):
    criterion = NCECriterion()

    def step():
        nce.zero_grad(set_to_none=True)
        criterion(nce(h, target)).backward()
        with torch.no_grad():
            for p in nce.parameters():
                p.add_(p.grad, alpha=-lr)

    return step


def lm_step(model: LanguageModel, batches: list, nce: bool):
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)
    criterion = NCECriterion()
    count = iter(range(10**9))

    def step():
        inputs, targets = batches[next(count) % len(batches)]
        if nce:
            loss = criterion(model(inputs, targets))
        else:
            loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()

    return step


def lm_table(cfg: dict, device: torch.device, quick: bool) -> None:
    shapes = [(10_000, 200, 200, 2, 20, 20)] if quick else [
        (10_000, 200, 200, 2, 20, 20), (50_000, 200, 200, 2, 20, 20)]  # fmt: skip
    print("\n| LM (V, E, H, layers, T, N) | softmax tok/s | NCE (k=25) tok/s | NCE / softmax |")
    print("|---|---:|---:|---:|")
    for V, E, H, L, T, N in shapes:
        torch.manual_seed(0)
        batches = [(torch.randint(V, (T, N), device=device),
                    torch.randint(V, (T, N), device=device)) for _ in range(4)]  # fmt: skip
        full = LanguageModel(V, "lstm", E, H, L).to(device)
        nce = LanguageModel(V, "lstm", E, H, L, nce_k=25).to(device)
        nce.decoder.set_unigrams(torch.rand(V).pow(4) * 1000 + 1)
        steps = {"full": lm_step(full, batches, nce=False), "nce": lm_step(nce, batches, nce=True)}
        times = {name: seconds(step, cfg["warmup"], cfg["repeats"], device)
                 for name, step in steps.items()}  # fmt: skip
        rate = {name: T * N / t for name, t in times.items()}
        print(f"| ({V}, {E}, {H}, {L}, {T}, {N}) | {rate['full']:,.0f} | {rate['nce']:,.0f} | "
              f"{rate['nce'] / rate['full']:.2f}× |")  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    cfg = {"warmup": 2, "repeats": 3 if args.quick else 10}
    sizes = [(640, 128, 10_000, 25)] if args.quick else [
        (1280, 256, 10_000, 25), (1280, 256, 10_000, 100), (1280, 256, 100_000, 100),
        (640, 256, 200_000, 400),
    ]  # fmt: skip
    peak = matmul_peak(1024, cfg, device)
    print(machine(device))
    print(f"float32 matmul peak {peak / 1e9:.0f} GFLOP/s")
    print("| rows R | H | V | k | softmax rows/s | NCE rows/s | NCE / softmax "
          "| softmax of peak | NCE of peak |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows, hidden, vocab, k in sizes:
        torch.manual_seed(0)
        h = torch.randn(rows, hidden, device=device) / hidden**0.5
        target = torch.randint(vocab, (rows,), device=device)
        counts = torch.rand(vocab).pow(4) * 1000 + 1  # a skewed, Zipf-like unigram table
        full = nn.Linear(hidden, vocab).to(device)
        nce = NCEModule(hidden, vocab, counts, k=k, z=1.0).to(device)
        steps = {"full": full_softmax_step(full, h, target, 0.1),
                 "nce": nce_step(nce, h, target, 0.1)}  # fmt: skip
        times = {name: seconds(step, cfg["warmup"], cfg["repeats"], device)
                 for name, step in steps.items()}  # fmt: skip
        flops = {"full": 3 * 2 * rows * hidden * vocab, "nce": 3 * 2 * rows * hidden * (k + 1)}
        speed = {name: rows / t for name, t in times.items()}
        frac = {name: flops[name] / times[name] / peak for name in times}
        print(f"| {rows} | {hidden} | {vocab:,} | {k} | {speed['full']:,.0f} | "
              f"{speed['nce']:,.0f} | {speed['nce'] / speed['full']:.1f}× | "
              f"{frac['full']:.0%} | {frac['nce']:.0%} |")  # fmt: skip
        del full, nce
    lm_table(cfg, device, args.quick)


if __name__ == "__main__":
    main()
