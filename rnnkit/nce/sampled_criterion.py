"""SampledSoftmaxCriterion: sampled softmax (importance sampling) on NCEModule's training output.

Jean et al., "On using very large target vocabulary for neural machine translation" (2015);
the form of Józefowicz et al. (2016) and TensorFlow's ``sampled_softmax_loss``. Not in the
original package: rnnkit's alternative to :class:`~rnnkit.nce.criterion.NCECriterion` for
the same module, the same noise words and the same cost per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import describe_shape, expect_tensor
from .criterion import check_nce_output


class SampledSoftmaxCriterion(nn.Module):
    """``loss = -mean_n log softmax([s_t - log q_t, s_1 - log q_1, …, s_K - log q_K])[0]``.

    A softmax over the target and the ``K`` noise words only, each score corrected by the
    log of its noise probability (importance sampling of the full softmax's normaliser).
    Its gradient is a consistent estimate of the full softmax's cross-entropy gradient; ``Z``
    cancels. Given ``target`` and ``noise`` (the module's ``noise_index``), noise words equal
    to the row's target ("accidental hits") are left out, as TensorFlow's
    ``remove_accidental_hits``; without them every noise word counts.

    Shape:
        ``out`` an :class:`~rnnkit.nce.module.NCEOutput` ``(*,), (*, K), (*,), (*, K)``;
        ``target (*,)``; ``noise (K,)`` or ``(*, K)`` → a scalar.

    Example:
        >>> import math
        >>> from rnnkit.nce.module import NCEOutput
        >>> from rnnkit.nce.sampled_criterion import SampledSoftmaxCriterion
        >>> zero = torch.zeros(1)
        >>> out = NCEOutput(zero, torch.zeros(1, 3), zero, torch.zeros(1, 3))  # 4 equal scores
        >>> round(SampledSoftmaxCriterion()(out).item(), 5) == round(math.log(4), 5)
        True
    """

    def forward(
        self,
        out: tuple[torch.Tensor, ...],
        target: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The sampled-softmax loss (a scalar) of NCEModule's training output ``out``."""
        name = type(self).__name__
        check_nce_output(name, out)
        model_target, model_noise, noise_target, noise_noise = out
        lead = model_target.shape
        logits = torch.cat(
            [(model_target - noise_target).unsqueeze(-1), model_noise - noise_noise], -1
        )  # (*, 1 + K)
        if noise is not None and target is not None:
            expect_tensor(name, noise, "noise")
            expect_tensor(name, target, "target")
            if target.shape != lead or noise.shape not in (
                model_noise.shape[-1:],
                model_noise.shape,
            ):
                raise ValueError(
                    f"{name}: expected target {describe_shape(tuple(lead))} and noise "
                    f"({model_noise.size(-1)},) or {describe_shape(tuple(model_noise.shape))}, got "
                    f"{describe_shape(tuple(target.shape))} and {describe_shape(tuple(noise.shape))}"
                )
            hit = noise.to(target.device) == target.unsqueeze(-1)  # (*, K)
            logits = torch.cat(
                [logits[..., :1], logits[..., 1:].masked_fill(hit, float("-inf"))], -1
            )
        if logits.numel() == 0:  # an empty batch: zero loss on the graph
            return logits.sum()
        return -F.log_softmax(logits, -1)[..., 0].mean()
