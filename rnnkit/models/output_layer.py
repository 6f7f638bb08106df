"""A language model's output layer: full softmax, NCE / sampled softmax, or adaptive softmax.

- ``softmax``: ``nn.Linear(H, V)``, trained by the exact cross-entropy.
- ``nce`` and ``sampled``: an :class:`~rnnkit.nce.module.NCEModule` trained by
  :class:`~rnnkit.nce.criterion.NCECriterion` (Mnih & Teh 2012) or by
  :class:`~rnnkit.nce.sampled_criterion.SampledSoftmaxCriterion` (Jean et al. 2015): same
  noise words, same ``O((K + 1)·H)`` cost per row.
- ``adaptive``: ``torch.nn.AdaptiveLogSoftmaxWithLoss`` (Grave et al. 2017), cut-offs from
  the training counts (:func:`adaptive_cutoffs`), behind :class:`AdaptiveOutput`, which
  renumbers the words by frequency, as that module requires.

Every kind is evaluated with its exact, normalised distribution over the ``V`` words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..nce.module import NCEModule

OUTPUTS = ("softmax", "nce", "sampled", "adaptive")
COVERAGE = (0.8, 0.95)  # adaptive cut-offs: the head holds 80 % of the tokens, the 1st tail 15 %


def adaptive_cutoffs(
    counts: torch.Tensor | np.ndarray | Sequence[float], coverage: Sequence[float] = COVERAGE
) -> list[int]:
    """Cluster ends, in frequency rank, at which the most frequent words reach each coverage."""
    counts = torch.as_tensor(counts, dtype=torch.float64)
    V = counts.numel()
    if V < 4 or not bool((counts >= 0).all()) or not counts.sum() > 0:
        raise ValueError(
            f"adaptive softmax: expected at least 4 non-negative counts with a positive sum, "
            f"got {V} counts summing to {float(counts.sum()) if V else 0.0}"
        )
    share = counts.sort(descending=True).values.cumsum(0) / counts.sum()
    cuts: list[int] = []
    for c in coverage:
        cut = int(torch.searchsorted(share, torch.tensor(c, dtype=torch.float64))) + 1
        cut = min(max(cut, (cuts[-1] + 1) if cuts else 2), V - 1)
        if not cuts or cut > cuts[-1]:
            cuts.append(cut)
    return [c for c in cuts if c < V]


class AdaptiveOutput(nn.Module):
    """``AdaptiveLogSoftmaxWithLoss(H, V, cutoffs)`` over words renumbered by frequency.

    ``rank[w]`` is word ``w``'s position in decreasing training frequency (set with
    :meth:`set_unigrams`; identity until then). ``forward(h)`` → ``(*, V)`` log-probabilities
    in the vocabulary's own order (they sum to 1); ``forward(h, target)`` → the mean
    negative log-likelihood of the targets (a scalar), computed cluster by cluster.
    """

    def __init__(
        self, input_size: int, vocab_size: int, cutoffs: Sequence[int], div_value: float = 4.0
    ) -> None:
        super().__init__()
        self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
            input_size, vocab_size, list(cutoffs), div_value=div_value
        )
        self.rank: torch.Tensor  # a buffer, declared for type checkers
        self.register_buffer("rank", torch.arange(vocab_size))

    def set_unigrams(self, counts: torch.Tensor | np.ndarray | Sequence[float]) -> None:
        counts = torch.as_tensor(counts, dtype=torch.float64)
        if counts.shape != self.rank.shape or not bool((counts >= 0).all()):
            raise ValueError(
                f"{type(self).__name__}: expected {self.rank.numel()} non-negative counts, got "
                f"shape {tuple(counts.shape)} with minimum {counts.min().item() if counts.numel() else None}"
            )
        order = torch.as_tensor(counts, dtype=torch.float64).argsort(descending=True, stable=True)
        self.rank.copy_(torch.empty_like(order).scatter_(0, order, torch.arange(order.numel())))

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        flat = h.reshape(-1, h.size(-1))  # (R, H)
        V = self.rank.numel()
        if target is None:
            if not flat.size(0):  # an empty batch
                return flat.new_zeros(*h.shape[:-1], V)
            log_probs = self.adaptive.log_prob(flat)  # (R, V), frequency order
            return log_probs[:, self.rank].view(*h.shape[:-1], V)  # vocabulary order
        if not flat.size(0):
            return flat.sum()  # zero loss on the graph
        return self.adaptive(flat, self.rank[target.reshape(-1)]).loss


def build_output_layer(
    output: str,
    H: int,
    V: int,
    k: int,
    alpha: float,
    cutoffs: Sequence[int] | None,
    sparse: bool,
) -> nn.Module:
    """The decoder of a :class:`~rnnkit.models.language_model.LanguageModel` of kind ``output``."""
    if output == "softmax":
        return nn.Linear(H, V)
    if output in ("nce", "sampled"):  # the noise distribution is set from the training counts
        return NCEModule(H, V, torch.ones(V), k=k, z=1.0, alpha=alpha, sparse=sparse)
    return AdaptiveOutput(H, V, cutoffs if cutoffs else adaptive_cutoffs(torch.ones(V)))
