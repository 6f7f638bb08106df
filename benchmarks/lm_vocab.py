"""A whole LanguageModel training step at V = 10k, 100k, 800k: softmax, NCE, sampled, adaptive.

    python -m benchmarks.lm_vocab [--vocab 10000 100000 800000] [--outputs ...] [--optimizer sgd]

The original's Billion-Words NCE example shape (``examples/noise-contrastive-estimate.lua``
defaults): embedding 256, 2 × 256 LSTM, batch 128, BPTT 50, k = 100 noise words, on a
synthetic Zipfian corpus (word ``r`` has probability ``∝ 1 / r``). One step = forward,
backward, gradient-norm clipping, Adam (``LazyAdam`` — SparseAdam on the sparse rows — for
NCE and sampled, whose embedding and output rows get sparse gradients; dense Adam for the
softmax and the adaptive softmax); ``--optimizer sgd``: plain SGD for every output, as the
original's NCE example (no moment tables: sparse rows update in place). Each (output, V) runs in its own process, so its peak
resident memory (``ru_maxrss``: weights, gradients, optimiser state, activations) is its own.

Where the full softmax's ``(R, V)`` logits would exceed ``--chunk-bytes`` (R = 6,400 rows), the
softmax reference computes its loss and gradient in chunks of rows (same result, bounded
memory): said in the table. FLOP fractions count the matrix products each method must do
(LSTM: ``2·4H·(D+H)`` per token and layer; softmax ``2·H·V``; NCE / sampled
``2·H·(K+1)``; adaptive: head plus the expected tail clusters), times 3 for forward and
backward, against the float32 matmul peak measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from rnnkit import NCECriterion, SampledSoftmaxCriterion
from rnnkit.models import LanguageModel
from rnnkit.training.sparse_grads import LazyAdam, clip_grad_norm

from .seq_layers import machine, matmul_peak

E, H, LAYERS, T, N, K = 256, 256, 2, 50, 128, 100


def zipf(V: int) -> torch.Tensor:
    p = 1.0 / torch.arange(1, V + 1, dtype=torch.float64)
    return p / p.sum()


def batch(p: torch.Tensor, g: torch.Generator):
    ids = torch.multinomial(p.float(), (T + 1) * N, replacement=True, generator=g).view(T + 1, N)
    return ids[:-1], ids[1:]


def build(output: str, V: int, optimizer: str = "adam", lr: float | None = None):
    model = LanguageModel(V, "lstm", E, H, LAYERS, nce_k=K if output in ("nce", "sampled") else 0,
                          output=output, sparse=output in ("nce", "sampled"))  # fmt: skip
    model.set_unigrams(zipf(V) * 1e9)
    sparse = model.sparse_parameters()
    if lr is None:
        lr = 0.05 if optimizer == "sgd" else 1e-3
    if optimizer == "sgd":  # plain SGD, as the original's NCE example: no moment tables at all
        return model, torch.optim.SGD(model.parameters(), lr=lr)
    opt = LazyAdam(model.parameters(), sparse, lr=lr) if sparse else torch.optim.Adam(
        model.parameters(), lr=lr)  # fmt: skip
    return model, opt


def loss_and_backward(model, output, x, y, chunk_rows):
    if output == "nce":
        loss = NCECriterion()(model(x, y))
    elif output == "sampled":
        loss = SampledSoftmaxCriterion()(model(x, y), y, model.decoder.noise_index)
    elif output == "adaptive":
        loss = model(x, y)
    elif chunk_rows >= T * N:
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    else:  # the full softmax in chunks of rows: the (R, V) logits never exist at once
        h = model.features(x).flatten(0, 1)  # (R, H)
        hd, total = h.detach().requires_grad_(), 0.0
        for s in range(0, h.size(0), chunk_rows):
            part = F.cross_entropy(model.decoder(hd[s : s + chunk_rows]), y.flatten()[s : s + chunk_rows],
                                   reduction="sum") / h.size(0)  # fmt: skip
            part.backward()
            total += part.item()
        h.backward(hd.grad)
        return total
    loss.backward()
    return loss.item()


def flops_per_token(output: str, V: int, model) -> float:
    lstm = sum(2 * 4 * H * (d + H) for d in [E] + [H] * (LAYERS - 1))
    if output == "softmax":
        out = 2 * H * V
    elif output in ("nce", "sampled"):
        out = 2 * H * (1 + K * 1.0)  # K shared noise rows per row's product (batch noise)
    else:
        a, p = model.decoder.adaptive, zipf(V)
        cut = a.cutoffs
        out = 2 * H * (cut[0] + a.n_clusters)
        for i, proj in enumerate(a.tail):
            share = float(p[cut[i] : cut[i + 1]].sum())
            d = proj[0].out_features
            out += share * 2 * (H * d + d * (cut[i + 1] - cut[i]))
    return 3 * (lstm + out)


def one(output: str, V: int, steps: int, chunk_bytes: float, optimizer: str = "adam") -> dict:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model, opt = build(output, V, optimizer)
    p = zipf(V)
    chunk_rows = max(1, int(chunk_bytes // (4 * V)))
    params, times, losses = list(model.parameters()), [], []
    for i in range(steps + 1):  # the first step is a warm-up
        x, y = batch(p, g)
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        losses.append(loss_and_backward(model, output, x, y, chunk_rows))
        clip_grad_norm(params, 5.0)
        opt.step()
        model.forget()
        if i:
            times.append(time.perf_counter() - start)
    t = sorted(times)[len(times) // 2]
    return {"output": output, "V": V, "s_per_step": t, "tokens_per_s": T * N / t,
            "flops_per_s": flops_per_token(output, V, model) * T * N / t,
            "chunked": output == "softmax" and chunk_rows < T * N, "steps": steps,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "losses": losses}  # fmt: skip


def train(output: str, V: int, steps: int, optimizer: str = "adam", lr: float | None = None) -> None:
    """A short run on the Zipfian stream: the training loss and the peak RSS every 5 steps."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model, opt = build(output, V, optimizer, lr)
    p, params, start = zipf(V), list(model.parameters()), time.perf_counter()
    # A fixed first-order chain over the Zipfian words: word w is followed by (w * 7 + c) % V
    # with c Zipfian, so there is context to learn beyond the unigram distribution.
    x = torch.multinomial(p.float(), N, replacement=True, generator=g)
    for step in range(1, steps + 1):
        ids = [x]
        for _ in range(T):
            c = torch.multinomial(p.float(), N, replacement=True, generator=g)
            ids.append((ids[-1] * 7 + c) % V)
        seq = torch.stack(ids)  # (T + 1, N)
        x = seq[-1]
        opt.zero_grad(set_to_none=True)
        loss = loss_and_backward(model, output, seq[:-1], seq[1:], T * N)
        clip_grad_norm(params, 5.0)
        opt.step()
        if step % 5 == 0 or step == 1:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            print(f"step {step}: loss {loss:.3f}, peak RSS {rss:.2f} GB, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, nargs="+", default=[10_000, 100_000, 800_000])
    parser.add_argument("--outputs", nargs="+", default=["softmax", "nce", "sampled", "adaptive"])
    parser.add_argument(
        "--steps", type=int, default=3, help="timed steps (softmax at V >= 800k: 1)"
    )
    parser.add_argument("--chunk-bytes", type=float, default=2e9)
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                        help="adam: Adam / LazyAdam (default); sgd: plain SGD on every output")  # fmt: skip
    parser.add_argument("--lr", type=float, help="learning rate (default: SGD 0.05, Adam 1e-3)")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--train", nargs=3, metavar=("OUTPUT", "V", "STEPS"),
                        help="instead: train OUTPUT at V for STEPS steps, print loss and memory")  # fmt: skip
    args = parser.parse_args(argv)
    if args.train:
        train(args.train[0], int(args.train[1]), int(args.train[2]), args.optimizer, args.lr)
        return
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.steps, args.chunk_bytes,
                             args.optimizer)))  # fmt: skip
        return
    peak = matmul_peak(1024, {"warmup": 2, "repeats": 5}, torch.device("cpu"))
    print(f"machine: {machine(torch.device('cpu'))}; float32 matmul peak {peak / 1e9:.0f} GFLOP/s")
    opt = "Adam (LazyAdam for nce/sampled)" if args.optimizer == "adam" else "SGD"
    print(f"shape: E {E}, 2 x {H} LSTM, T {T}, N {N}, K {K}; {opt}\n")
    print("| V | output | s/step | tokens/s | × softmax | peak RSS GB | of matmul peak |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for V in args.vocab:
        base = None
        for output in args.outputs:
            steps = 1 if output == "softmax" and V >= 800_000 else args.steps
            cmd = [sys.executable, "-m", "benchmarks.lm_vocab", "--one", output, str(V),
                   "--steps", str(steps), "--chunk-bytes", str(args.chunk_bytes),
                   "--optimizer", args.optimizer]  # fmt: skip
            r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            base = r["tokens_per_s"] if output == "softmax" else base
            ratio = f"{r['tokens_per_s'] / base:.1f}×" if base else "—"
            note = " (chunked)" if r["chunked"] else ""
            print(
                f"| {V:,} | {output}{note} | {r['s_per_step']:.3f} | {r['tokens_per_s']:,.0f} | "
                f"{ratio} | {r['peak_rss_gb']:.2f} | {r['flops_per_s'] / peak:.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
