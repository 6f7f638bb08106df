"""Drawing the next token from a model's scores: temperature, top-k and nucleus (top-p).

torch-rnn's ``sample.lua`` had the temperature only; top-k is Fan et al. 2018
("Hierarchical Neural Story Generation"), top-p Holtzman et al. 2020 ("The Curious Case of
Neural Text Degeneration"). The filters run in the order Hugging Face's ``generate`` uses:
temperature, then top-k, then top-p on what top-k left (renormalised), then a renormalised
draw. Everything here works on a batch of ``N`` rows at once, so ``M`` samples cost one
forward step per token, not ``M``.
"""

from __future__ import annotations

import math
import numbers

import torch

from .._checks import expect_float, expect_int, expect_tensor


def check_filters(
    name: str, temperature: float, top_k: int, top_p: float
) -> tuple[float, int, float]:
    """``(temperature, top_k, top_p)`` checked: ``> 0``, ``>= 0``, in ``(0, 1]``; else ValueError."""
    temperature = expect_float(name, temperature, "temperature", 0.0, low_open=True)
    top_k = expect_int(name, top_k, "top_k", 0)
    ok = isinstance(top_p, numbers.Real) and not isinstance(top_p, bool)
    if not (ok and math.isfinite(top_p) and 0 < top_p <= 1):
        raise ValueError(f"{name}: expected top_p to be a number in (0, 1], got {top_p!r}")
    return temperature, top_k, float(top_p)


def filtered_probs(
    scores: torch.Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    *,
    name: str = "filtered_probs",
) -> torch.Tensor:
    """The distribution the next token is drawn from, after temperature, top-k and top-p.

    Args:
        scores: logits, or log-probabilities (the same distribution up to a constant).
        temperature: the scores are divided by it (> 0; lower is greedier).
        top_k: keep exactly the ``k`` most likely tokens of each row (0: all; ``k >= V``:
            all). Ties at the ``k``-th score are broken by ``torch.topk``.
        top_p: nucleus sampling: keep the smallest set of most likely tokens whose
            probability (after top-k, renormalised) is at least ``p``; always at least one
            token. ``1.0``: all.
        name: how error messages name the caller (``sample: …``).

    Shape:
        ``scores (N, V)`` → probabilities ``(N, V)`` in float32 (each row sums to 1; the
        tokens filtered out are exactly 0).
    """
    expect_tensor(name, scores, "scores")
    if scores.dim() != 2 or not scores.is_floating_point():
        raise ValueError(
            f"{name}: expected floating scores of shape (N, V), got {tuple(scores.shape)} "
            f"{scores.dtype}"
        )
    temperature, top_k, top_p = check_filters(name, temperature, top_k, top_p)
    # float64: the cumulative sums of top-p decide membership, so keep them exact enough
    logits = scores.detach().double() / temperature  # (N, V)
    V = logits.size(1)
    if 0 < top_k < V:
        kept = logits.topk(top_k, dim=1).indices  # (N, k): exactly k, whatever the ties
        mask = torch.ones_like(logits, dtype=torch.bool).scatter_(1, kept, False)
        logits = logits.masked_fill(mask, -math.inf)
    probs = torch.softmax(logits, dim=1)  # (N, V)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=1, descending=True)  # (N, V)
        before = sorted_probs.cumsum(1) - sorted_probs  # mass of the more likely tokens
        drop_sorted = before >= top_p  # the set is complete before reaching this token
        drop = torch.zeros_like(drop_sorted).scatter_(1, order, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(1, keepdim=True)
    return probs.float()


def sample_next(
    scores: torch.Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    *,
    generator: torch.Generator | None = None,
    name: str = "sample_next",
) -> torch.Tensor:
    """Draw one token per row from :func:`filtered_probs` of ``scores``.

    The draw is made on the CPU (``torch.multinomial`` with ``generator``, a CPU generator),
    so a seed gives the same tokens on every device.

    Shape:
        ``scores (N, V)`` → token ids ``(N,)`` (``torch.long``, on the CPU).

    Example:
        >>> scores = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])
        >>> sample_next(scores, top_k=1).tolist()
        [1, 0]
    """
    probs = filtered_probs(scores, temperature, top_k, top_p, name=name).cpu()  # (N, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (N,)
