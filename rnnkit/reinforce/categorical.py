"""ReinforceCategorical: one-hot actions trained with REINFORCE, the original ``nn.ReinforceCategorical``.

Replaces dpnn's ``nn.ReinforceCategorical`` (Element-Research/rnn); REINFORCE after
Williams (1992).
"""

from __future__ import annotations

import torch

from .._checks import describe_shape
from .reinforce import Reinforce, check_probabilities

# Rows of probabilities must sum to 1 within this (catches logits and unnormalised
# scores; softmax outputs are well within it, also in half precision).
_SUM_TOLERANCE = 1e-2


class ReinforceCategorical(Reinforce):
    """Samples one class per row from ``p`` and records ``log p[a]`` of the sampled class ``a``.

    The output is the one-hot encoding of the sample. The REINFORCE gradient w.r.t.
    ``p`` is ``r * onehot(a) / p`` (non-zero only at the sampled class; times ``-1`` as a
    loss), as in the original. In evaluation mode the output is ``p`` (the expected
    one-hot action).

    Shape:
        input probabilities ``(N, K)``, rows in [0, 1] summing to 1 (e.g. a softmax) →
        one-hot actions ``(N, K)`` (the input's dtype); recorded log-probability ``(N,)``.

    Example:
        >>> from rnnkit.reinforce.categorical import ReinforceCategorical
        >>> ReinforceCategorical()(torch.tensor([[0.0, 1.0, 0.0]]))
        tensor([[0., 1., 0.]])
    """

    def check_input(self, input: torch.Tensor) -> None:
        name = type(self).__name__
        if input.dim() != 2 or input.size(1) == 0:
            raise ValueError(
                f"{name}: expected probabilities of shape (N, K), "
                f"got {describe_shape(tuple(input.shape))}"
            )
        check_probabilities(name, input)
        sums = input.sum(1)
        if not bool(((sums - 1).abs() <= _SUM_TOLERANCE).all()):
            raise ValueError(
                f"{name}: expected each row of probabilities to sum to 1 (e.g. a softmax, "
                f"not logits or log-probabilities), got row sums in "
                f"[{sums.min().item():.4g}, {sums.max().item():.4g}]"
            )

    def sample(self, input: torch.Tensor) -> torch.Tensor:
        index = torch.multinomial(input, 1)  # (N, 1)
        return torch.zeros_like(input).scatter_(1, index, 1.0)

    def log_prob(self, input: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        index = action.argmax(1, keepdim=True)  # (N, 1)
        return torch.log(input.gather(1, index))  # (N, 1)

    def expected(self, input: torch.Tensor) -> torch.Tensor:
        return input
