"""VRClassReward: the variance-reduced classification reward criterion, the original ``nn.VRClassReward``.

Replaces dpnn's ``nn.VRClassReward`` (Element-Research/rnn), the reward of the
Recurrent Attention Model (Mnih et al., "Recurrent Models of Visual Attention", 2014):
REINFORCE (Williams 1992) with a learned baseline subtracted from the reward to reduce
the variance of the gradient estimate.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import describe_shape, expect_floating, expect_integer, expect_shape, expect_tensor
from .reinforce import reinforce_modules


class VRClassReward(nn.Module):
    """REINFORCE loss for every Reinforce module inside ``module``, rewarding correct classes.

    ``VRClassReward(model)((log_probs, baseline), target)`` computes

    * the reward ``R_n = scale * 1[argmax_c log_probs[n, c] = target_n]``;
    * the surrogate ``L_r = -mean_n((R_n - b_n) * sum_m log p_m(a_n))``, where ``log p_m``
      is the log-probability recorded by Reinforce module ``m`` (summed over its calls)
      and ``R - b`` is detached, so its gradient w.r.t. a distribution's input is
      ``-(R - b) / N * d log p(a) / d input``, the original's gradInput;
    * the baseline's squared error ``L_b = mean_n((b_n - R_n)^2)``, which trains ``b``
      towards ``E[R]`` (its only gradient goes to the baseline).

    and returns ``L_r + L_b``. The records of the Reinforce modules are then cleared. No
    gradient flows to ``log_probs``: add the classification loss (e.g. ``F.nll_loss``)
    yourself, as the original's ``ParallelCriterion`` did.

    ``module`` is referenced, not registered: the criterion has no parameters of its own.

    Args:
        module: the model whose Reinforce modules sampled the actions.
        scale: reward of a correct classification.

    Attributes:
        reward: the last reward ``R``, ``(N,)``, detached (for logging).

    Shape:
        ``log_probs (N, C)`` (log-)probabilities, ``baseline (N,)`` or ``(N, 1)``,
        ``target (N,)`` class indices → a scalar.

    Example:
        >>> from rnnkit.reinforce.categorical import ReinforceCategorical
        >>> from rnnkit.reinforce.vr_class_reward import VRClassReward
        >>> policy = ReinforceCategorical()
        >>> logits = torch.zeros(2, 3, requires_grad=True)
        >>> action = policy(logits.softmax(1))  # a sampled one-hot "guess" per row
        >>> criterion = VRClassReward(policy)
        >>> loss = criterion((action.clamp_min(1e-6).log(), torch.zeros(2)), torch.tensor([0, 2]))
        >>> loss.backward()  # the REINFORCE gradient reaches the logits
        >>> logits.grad.shape, criterion.reward.shape, policy.n_recorded
        (torch.Size([2, 3]), torch.Size([2]), 0)
    """

    def __init__(self, module: nn.Module, scale: float = 1.0) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"VRClassReward: expected module to be an nn.Module, got {type(module).__name__}"
            )
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float))
            or not math.isfinite(scale)
        ):
            raise ValueError(f"VRClassReward: expected scale to be a finite number, got {scale!r}")
        self._model = (module,)  # a tuple: not registered as a submodule
        self.scale = float(scale)
        self.reward: torch.Tensor | None = None

    @property
    def module(self) -> nn.Module:
        """The model whose Reinforce modules receive the reward."""
        return self._model[0]

    def forward(
        self, input: tuple[torch.Tensor, torch.Tensor] | list[torch.Tensor], target: torch.Tensor
    ) -> torch.Tensor:
        """The loss (a scalar) for ``(log_probs (N, C), baseline (N,))`` against ``target (N,)``:
        REINFORCE over the samples that ``module``'s Reinforce modules recorded, plus the
        baseline's squared error."""
        name = "VRClassReward"
        if not isinstance(input, (tuple, list)) or len(input) != 2:
            raise TypeError(
                f"{name}: expected input to be a pair (log_probs, baseline), "
                f"got {type(input).__name__}"
                + (f" of length {len(input)}" if isinstance(input, (tuple, list)) else "")
            )
        log_probs, baseline = input
        expect_tensor(name, log_probs, "log_probs")
        expect_floating(name, log_probs, "log_probs")
        expect_shape(name, log_probs, ("N", "C"), "log_probs")
        n, c = log_probs.shape
        expect_tensor(name, baseline, "baseline")
        expect_floating(name, baseline, "baseline")
        if baseline.shape not in ((n,), (n, 1)):
            raise ValueError(
                f"{name}: expected baseline of shape ({n},) or ({n}, 1), "
                f"got {describe_shape(tuple(baseline.shape))}"
            )
        expect_tensor(name, target, "target")
        expect_integer(name, target, "target")
        expect_shape(name, target, (n,), "target")
        if n and not bool(((target >= 0) & (target < c)).all()):
            raise ValueError(
                f"{name}: expected target classes in [0, {c - 1}], got values in "
                f"[{target.min().item()}, {target.max().item()}]"
            )

        modules = reinforce_modules(self.module)
        if not modules:
            raise ValueError(
                f"{name}: expected a model with at least one Reinforce module "
                f"(ReinforceNormal, ReinforceCategorical, ...), found none in "
                f"{type(self.module).__name__}"
            )
        recorded = [m for m in modules if m.n_recorded]
        if not recorded:
            raise ValueError(
                f"{name}: none of the {len(modules)} Reinforce module(s) recorded a sample; "
                "forward the model in training mode before computing the reward"
            )
        log_prob = None
        for m in recorded:
            lp = cast(torch.Tensor, m.recorded_log_prob())  # not None: m.n_recorded > 0
            if lp.shape != (n,):
                raise ValueError(
                    f"{name}: {type(m).__name__} recorded samples for a batch of "
                    f"{lp.size(0)}, but log_probs has a batch of {n}"
                )
            log_prob = lp if log_prob is None else log_prob + lp
        log_prob = cast(torch.Tensor, log_prob)  # ``recorded`` is not empty

        baseline = baseline.reshape(n)
        correct = log_probs.detach().argmax(1) == target
        reward = self.scale * correct.to(baseline.dtype)  # (N,)
        self.reward = reward
        advantage = (reward - baseline).detach()
        for m in recorded:
            m.clear()
        if n == 0:  # no rows: no loss (a mean over them is NaN), zero gradients
            return (log_prob.sum() + baseline.sum()) * 0.0
        surrogate = -(advantage * log_prob).mean()
        baseline_loss = F.mse_loss(baseline, reward)
        return surrogate + baseline_loss

    def extra_repr(self) -> str:
        return f"scale={self.scale}"
