"""Short PTB trials of output layers and optimiser settings: validation perplexity after S steps.

    python -m benchmarks.output_recipes softmax,0,sgd,20,300,0.25 nce,25,adam,0.002,300,5 …

Each argument is ``output,k,optimizer,lr,steps,clip[,alpha]``. Zaremba et al.'s small model
(2 × 200 LSTM, embedding 200, BPTT 20, batch 20, parameters uniform in ±0.1; NCE/sampled:
the NCE init, bias = log unigram, sparse rows, LazyAdam for Adam), trained on the first
``steps`` batches of ``ptb.train.txt``, then scored with the exact softmax on the first 8,000
tokens of ``ptb.valid.txt`` (one stream). For choosing a recipe quickly, not a result.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnkit import NCECriterion, SampledSoftmaxCriterion
from rnnkit.models import LanguageModel
from rnnkit.training.sparse_grads import LazyAdam, clip_grad_norm

PTB = str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ptb" / "ptb.{}.txt")


def read(split: str) -> list[str]:
    with open(PTB.format(split)) as f:
        return f.read().replace("\n", " <eos> ").split()


def trial(data, valid, counts, output, k, opt, lr, steps, clip, alpha=0.75) -> str:
    torch.manual_seed(0)
    V = counts.numel()
    m = LanguageModel(V, wordvec_size=200, rnn_size=200, num_layers=2, nce_k=k, output=output,
                      sparse=output in ("nce", "sampled"), nce_alpha=alpha)  # fmt: skip
    for p in m.parameters():
        torch.nn.init.uniform_(p, -0.1, 0.1)
    if m.sampled_output:
        m.decoder.reset_parameters()
    m.set_unigrams(counts)
    sparse = m.sparse_parameters()
    if opt == "sgd":
        o = torch.optim.SGD(m.parameters(), lr=lr)
    else:
        o = (
            LazyAdam(m.parameters(), sparse, lr=lr)
            if sparse
            else torch.optim.Adam(m.parameters(), lr=lr)
        )
    T = 20
    start = time.perf_counter()
    for s in range(steps):
        x, y = data[s * T : (s + 1) * T], data[s * T + 1 : (s + 1) * T + 1]
        o.zero_grad()
        if output == "softmax":
            loss = F.cross_entropy(m(x).flatten(0, 1), y.flatten())
        elif output == "nce":
            loss = NCECriterion()(m(x, y))
        elif output == "sampled":
            loss = SampledSoftmaxCriterion()(m(x, y), y, m.decoder.noise_index)
        else:
            loss = m(x, y)
        loss.backward()
        clip_grad_norm(list(m.parameters()), clip)
        o.step()
    seconds = time.perf_counter() - start
    m.eval()
    m.forget()
    with torch.no_grad():
        ppl = F.cross_entropy(m(valid[:-1].view(-1, 1)).flatten(0, 1), valid[1:]).exp().item()
    return (f"{output} k={k} {opt} lr={lr} clip={clip} alpha={alpha} steps={steps}: "
            f"valid[:8000] perplexity {ppl:.1f} (training {seconds:.0f} s)")  # fmt: skip


def main(argv=None) -> None:
    train, valid = read("train"), read("valid")[:8000]
    ranked = sorted(Counter(train).items(), key=lambda x: -x[1])
    vocab = {w: i for i, (w, _) in enumerate(ranked)}
    ids = torch.tensor([vocab[w] for w in train])
    N = 20
    data = ids[: len(ids) // N * N].view(N, -1).t()  # (L, N) streams
    counts = torch.bincount(ids, minlength=len(vocab)).double()
    valid_ids = torch.tensor([vocab[w] for w in valid])
    for spec in argv if argv is not None else sys.argv[1:]:
        a = spec.split(",")
        args = (a[0], int(a[1]), a[2], float(a[3]), int(a[4]), float(a[5]), *map(float, a[6:]))
        print(trial(data, valid_ids, counts, *args), flush=True)


if __name__ == "__main__":
    main()
