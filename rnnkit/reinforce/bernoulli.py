"""ReinforceBernoulli: binary actions trained with REINFORCE, the original ``nn.ReinforceBernoulli``.

Replaces dpnn's ``nn.ReinforceBernoulli`` (Element-Research/rnn); REINFORCE after
Williams (1992).
"""

from __future__ import annotations

import torch

from .reinforce import Reinforce, check_probabilities


class ReinforceBernoulli(Reinforce):
    """Samples ``a = 1[u < p]``, ``u ~ U(0, 1)``, and records ``log p(a) = log(a p + (1 - a)(1 - p))``.

    Summed over the non-batch dimensions. The REINFORCE gradient w.r.t. ``p`` is
    ``r * (a - p) / (p (1 - p))`` (times ``-1`` as a loss), as in the original. In
    evaluation mode the output is ``p`` (the expected action).

    Shape:
        input probabilities ``(N, *)`` in [0, 1] → actions ``(N, *)`` of 0s and 1s (the
        input's dtype); recorded log-probability ``(N,)``.

    Example:
        >>> from rnnkit.reinforce.bernoulli import ReinforceBernoulli
        >>> ReinforceBernoulli()(torch.tensor([[0.0, 1.0]]))
        tensor([[0., 1.]])
    """

    def check_input(self, input: torch.Tensor) -> None:
        check_probabilities(type(self).__name__, input)

    def sample(self, input: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(input)

    def log_prob(self, input: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        # log of the selected probability: exact and finite even where p is 0 or 1
        # (a sampled action always has a non-zero probability).
        return torch.log(torch.where(action > 0.5, input, 1 - input))

    def expected(self, input: torch.Tensor) -> torch.Tensor:
        return input
