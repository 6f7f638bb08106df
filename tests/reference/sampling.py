"""Reference top-k / top-p filtering, written from the papers' definitions, one row at a time.

Plain Python floats over a sorted list; nothing here imports rnnkit. Fan et al. 2018: keep the
``k`` most likely tokens. Holtzman et al. 2020: keep the smallest set of most likely tokens
whose probability reaches ``p``. Each step renormalises what it kept.
"""

from __future__ import annotations

import math


def filtered_row(scores: list[float], temperature: float, k: int, p: float) -> list[float]:
    """The probabilities of one row of scores after temperature, top-k, then top-p."""
    z = [s / temperature for s in scores]
    order = sorted(range(len(z)), key=lambda i: -z[i])  # most likely first
    keep = order[:k] if 0 < k < len(z) else order
    top = max(z[i] for i in keep)
    weights = {i: math.exp(z[i] - top) for i in keep}
    total = sum(weights.values())
    probs = {i: w / total for i, w in weights.items()}
    if p < 1.0:
        nucleus, mass = [], 0.0
        for i in keep:  # still most likely first
            nucleus.append(i)
            mass += probs[i]
            if mass >= p:
                break
        total = sum(probs[i] for i in nucleus)
        probs = {i: probs[i] / total for i in nucleus}
    return [probs.get(i, 0.0) for i in range(len(z))]
