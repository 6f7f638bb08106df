"""ReinforceNormal: Gaussian actions trained with REINFORCE, the original ``nn.ReinforceNormal``.

Replaces dpnn's ``nn.ReinforceNormal`` (Element-Research/rnn), the location policy of
the Recurrent Attention Model (Mnih et al., "Recurrent Models of Visual Attention", 2014);
REINFORCE after Williams (1992).
"""

from __future__ import annotations

import math

import torch

from .reinforce import Reinforce


class ReinforceNormal(Reinforce):
    """Samples ``a = mu + stdev * eps``, ``eps ~ N(0, 1)``, and records ``log N(a; mu, stdev)``.

    ``log p(a | mu) = -(a - mu)^2 / (2 stdev^2) - log(stdev) - log(2 pi) / 2``, summed over
    the non-batch dimensions, so the REINFORCE gradient w.r.t. the mean is
    ``r * (a - mu) / stdev^2`` (times ``-1`` as a loss), as in the original. In evaluation
    mode the output is the mean itself. The standard deviation is a fixed number
    (the original's table input ``{mu, sigma}`` is not supported).

    Args:
        stdev: standard deviation of the Gaussian, a number > 0.

    Shape:
        input means ``(N, *)`` → actions ``(N, *)``; recorded log-probability ``(N,)``.

    Example:
        >>> from rnnkit.reinforce.normal import ReinforceNormal
        >>> policy = ReinforceNormal(0.1)
        >>> a = policy(torch.zeros(4, 2))
        >>> a.shape, policy.recorded_log_prob().shape
        (torch.Size([4, 2]), torch.Size([4]))
    """

    def __init__(self, stdev: float) -> None:
        super().__init__()
        if (
            isinstance(stdev, bool)
            or not isinstance(stdev, (int, float))
            or not math.isfinite(stdev)
            or stdev <= 0
        ):
            raise ValueError(f"ReinforceNormal: expected stdev to be a number > 0, got {stdev!r}")
        self.stdev = float(stdev)

    def sample(self, input: torch.Tensor) -> torch.Tensor:
        return input + self.stdev * torch.randn_like(input)

    def log_prob(self, input: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        var = self.stdev**2
        return (
            -((action - input) ** 2) / (2 * var)
            - math.log(self.stdev)
            - 0.5 * math.log(2 * math.pi)
        )

    def expected(self, input: torch.Tensor) -> torch.Tensor:
        return input

    def extra_repr(self) -> str:
        return f"stdev={self.stdev}"
