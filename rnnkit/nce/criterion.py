"""NCECriterion: the noise-contrastive estimation loss, the original ``nn.NCECriterion``.

Replaces dpnn's ``nn.NCECriterion`` (merged into Element-Research/rnn), after Mnih & Teh
(2012): a logistic classifier between the data word and ``k`` noise words.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import describe_shape, expect_tensor


class NCECriterion(nn.Module):
    """``loss = -mean_n [log P(D=1 | target_n) + sum_j log P(D=0 | noise_nj)]``.

    With ``P(D=1 | w) = Pm(w) / (Pm(w) + k q(w))`` (``Pm`` the unnormalised model
    probability, ``q`` the noise distribution, ``k`` noise words per example), as the
    original. The original added ``1e-7`` to the denominators of its probabilities; here
    both terms are ``logsigmoid`` of ``log Pm - log k - log q`` (and its negative), the same
    quantity without overflow or the epsilon. The mean runs over every leading dim of the
    input. ``target`` is accepted and unused (the module already scored it), so the
    criterion fits ``SequencerCriterion`` and ``MaskZeroCriterion(NCECriterion(), 0)``.

    Shape:
        ``out`` an :class:`~rnnkit.nce.module.NCEOutput` (or the 4-tuple) with
        ``(*,), (*, K), (*,), (*, K)`` → a scalar.

    Example:
        >>> from rnnkit.nce.criterion import NCECriterion
        >>> import math
        >>> from rnnkit.nce.module import NCEOutput
        >>> log_q = torch.full((1, 1), -math.log(4))  # q = 1/4 for a target and k = 1 noise word
        >>> out = NCEOutput(log_q[0], log_q, log_q[0], log_q)  # Pm = q: a coin flip each
        >>> NCECriterion()(out)  # 2 log 2
        tensor(1.3863)
    """

    def forward(
        self, out: tuple[torch.Tensor, ...], target: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The NCE loss (a scalar) of NCEModule's training output ``out``; ``target`` is unused."""
        name = type(self).__name__
        check_nce_output(name, out)
        model_target, model_noise, noise_target, noise_noise = out
        log_k = math.log(model_noise.size(-1))
        data = F.logsigmoid(model_target - log_k - noise_target)  # (*,)
        noise = F.logsigmoid(noise_noise + log_k - model_noise).sum(-1)  # (*,)
        if data.numel() == 0:  # an empty batch: no loss (mean() would be NaN), zero gradients
            return data.sum() + noise.sum()  # exactly 0, on the graph
        return -(data + noise).mean()


def check_nce_output(name: str, out: object) -> None:
    """Raise unless ``out`` is NCEModule's training output: 4 tensors shaped ``(*,), (*, K), (*,), (*, K)``."""
    if not isinstance(out, (tuple, list)) or len(out) != 4:
        raise TypeError(
            f"{name}: expected NCEModule's training output (an NCEOutput of 4 tensors), "
            f"got {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        )
    for i, t in enumerate(out):
        expect_tensor(name, t, f"output {i} of NCEModule")
    model_target, model_noise, noise_target, noise_noise = out
    lead = model_target.shape
    if (
        model_noise.dim() != len(lead) + 1
        or model_noise.shape[:-1] != lead
        or (noise_target.shape != lead or noise_noise.shape != model_noise.shape)
    ):
        shapes = ", ".join(describe_shape(tuple(t.shape)) for t in out)
        raise ValueError(f"{name}: expected shapes (*,), (*, K), (*,), (*, K), got {shapes}")
