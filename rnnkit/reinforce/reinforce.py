"""Reinforce: the base of the stochastic modules trained with REINFORCE, the original ``nn.Reinforce``.

Replaces dpnn's ``nn.Reinforce`` (merged into Element-Research/rnn), after Williams,
"Simple statistical gradient-following algorithms for connectionist reinforcement
learning" (1992), as used by the Recurrent Attention Model (Mnih et al. 2014).

The original handed a reward to every module (``Module:reinforce(r)``) and each
Reinforce module wrote ``-r * d log p(a | input) / d input`` as its gradInput. With
autograd the same gradient comes from a surrogate: each module records the
log-probability of the action it sampled, as a differentiable function of its input,
and a reward criterion (:class:`~rnnkit.reinforce.vr_class_reward.VRClassReward`)
minimises ``-mean_n(r_n * sum log p_n)``. The sampled action itself carries no
gradient, so nothing else can reach the distribution's parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import describe_shape, expect_floating, expect_tensor


class Reinforce(nn.Module):
    """Base class: samples an action in training and records its log-probability.

    Training mode: ``a = sample(input)`` is returned detached, and
    ``log p(a | input)`` summed over the non-batch dimensions, a ``(N,)`` tensor that
    stays connected to ``input``'s graph, is appended to this module's records. A
    module called at several time steps (inside a ``Recursor`` or
    ``RecurrentAttention``) records one entry per call. Evaluation mode: returns the
    mean (or the probabilities) of the distribution, detached, and records nothing.

    The records hold the autograd graph until they are consumed by ``VRClassReward``
    (which clears them) or :meth:`clear` is called.

    Subclasses implement :meth:`sample`, :meth:`log_prob` and :meth:`expected`, and may
    override :meth:`check_input`.

    Shape:
        input ``(N, *)`` → action ``(N, *)`` (the same shape).
    """

    def __init__(self) -> None:
        super().__init__()
        self._log_probs: list[torch.Tensor] = []

    # ------------------------------------------------------------------ subclass API
    def check_input(self, input: torch.Tensor) -> None:
        """Raise ``ValueError`` if ``input`` is not a valid distribution parameter."""

    def sample(self, input: torch.Tensor) -> torch.Tensor:
        """Draw an action from the distribution given by ``input`` (detached)."""
        raise NotImplementedError

    def log_prob(self, input: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Element-wise ``log p(action | input)``, differentiable w.r.t. ``input``."""
        raise NotImplementedError

    def expected(self, input: torch.Tensor) -> torch.Tensor:
        """The deterministic output of evaluation mode (the mean of the distribution)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ records
    @property
    def n_recorded(self) -> int:
        """How many samples (calls) are recorded."""
        return len(self._log_probs)

    def recorded_log_prob(self) -> torch.Tensor | None:
        """``(N,)``: the log-probabilities of the recorded samples, summed over the calls.

        ``None`` when nothing is recorded (evaluation mode, or after :meth:`clear`).
        """
        if not self._log_probs:
            return None
        first = self._log_probs[0]
        total = first
        for lp in self._log_probs[1:]:
            if lp.shape != first.shape:
                raise ValueError(
                    f"{type(self).__name__}: recorded samples have different batch sizes "
                    f"({first.size(0)} and {lp.size(0)}); call clear() between batches"
                )
            total = total + lp
        return total

    def clear(self) -> None:
        """Forget the recorded log-probabilities (and the graphs they hold)."""
        self._log_probs = []

    # ------------------------------------------------------------------ forward
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """An action ``(N, *)`` for the parameters ``input (N, *)``: sampled in training (its
        log-probability recorded for the reward), the expected action in evaluation."""
        name = type(self).__name__
        expect_tensor(name, input)
        expect_floating(name, input)
        if input.dim() < 1:
            raise ValueError(
                f"{name}: expected input of shape (N, *), got {describe_shape(tuple(input.shape))}"
            )
        self.check_input(input)
        if not self.training:
            return self.expected(input).detach()
        action = self.sample(input.detach()).detach()
        log_prob = self.log_prob(input, action)
        log_prob = (
            log_prob.sum(tuple(range(1, log_prob.dim()))) if log_prob.dim() > 1 else log_prob
        )  # (N,)
        self._log_probs.append(log_prob)
        return action

    def __getstate__(self):
        # Copies and pickles drop the records: they hold graphs (deepcopy refuses those).
        state = super().__getstate__()
        state["_log_probs"] = []
        return state


def reinforce_modules(model: nn.Module) -> list[Reinforce]:
    """Every :class:`Reinforce` module inside ``model`` at any depth (itself included)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"reinforce_modules: expected an nn.Module, got {type(model).__name__}")
    return [m for m in model.modules() if isinstance(m, Reinforce)]


def check_probabilities(module: str, p: torch.Tensor, what: str = "probabilities") -> None:
    """Raise ``ValueError`` unless every entry of ``p`` is in [0, 1] (NaN fails too)."""
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError(
            f"{module}: expected {what} in [0, 1], got values in "
            f"[{p.min().item():.4g}, {p.max().item():.4g}]"
        )
