"""NCEModule: a noise-contrastive estimation output layer, the original ``nn.NCEModule``.

Replaces dpnn's ``nn.NCEModule`` (merged into Element-Research/rnn and torch/rnn), after
Gutmann & Hyvärinen (2010) and Mnih & Teh, "A fast and simple algorithm for training neural
probabilistic language models" (2012): the network learns to tell the data's next word
from ``k`` words drawn from a noise distribution, which costs ``k + 1`` output rows per
example instead of all ``V``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .._checks import (
    describe_shape,
    expect_float,
    expect_integer,
    expect_like,
    expect_positive_int,
    expect_tensor,
)
from .sparse_rows import gather_rows


class NCEOutput(NamedTuple):
    """The training output of :class:`NCEModule`, in log space (the original's table, logged).

    ``model_target`` is ``log Pmt = s[target] - log Z``, ``model_noise`` is ``log Pms``
    for each noise word, ``noise_target`` and ``noise_noise`` are ``log q`` of the target
    and of the noise words under the noise distribution ``q``.

    Shape:
        ``model_target (*,)``, ``model_noise (*, K)``, ``noise_target (*,)``,
        ``noise_noise (*, K)``, where ``*`` are the leading dims of the input.
    """

    model_target: torch.Tensor
    model_noise: torch.Tensor
    noise_target: torch.Tensor
    noise_noise: torch.Tensor


class NCEModule(nn.Linear):
    """A ``Linear(D → V)`` output layer trained by noise-contrastive estimation.

    Training call ``nce(h, target)`` (or ``nce((h, target))``, so it fits inside
    ``MaskZero`` and ``Sequencer``): draws ``K = k`` noise words from
    ``q ∝ unigrams ** alpha`` and scores the target and the noise words with the
    unnormalised model ``P(w | h) = exp(W[w]·h + b[w]) / Z``; returns an :class:`NCEOutput`
    for :class:`~rnnkit.nce.criterion.NCECriterion`. Only the ``K + 1`` rows of ``W``
    involved in a batch are touched. Call without a target, ``nce(h)``, for the full
    normalised ``log_softmax(W h + b)`` over all ``V`` words, e.g. in evaluation to measure
    perplexity.

    ``Z`` is a fixed constant (NCE's self-normalisation): pass ``z``, or leave it ``None``
    and it is estimated once, at the first training call, as ``V · mean(exp(scores of the
    noise words))``, as the original does; it is then stored in the state dict. The bias
    starts at ``-log V`` so that ``exp(score) ≈ 1 / V`` and ``Z = 1`` is self-consistent
    (the original's ``reset()``).

    ``batch_noise`` (default ``True``, the original's ``batchnoise``): one set of ``K`` noise
    words per call shared by every row (one matrix product); ``False``: ``K`` words for each
    row. Noise words may coincide with the target. The last draw is kept in
    ``noise_index`` (``(K,)`` or ``(*, K)``).

    Args:
        input_size: ``D``. output_size: ``V``, the vocabulary.
        unigrams: ``V`` non-negative counts or probabilities of the words (a tensor, array
            or sequence); words with zero count are never drawn as noise.
        k: noise words per example. z: the normaliser ``Z > 0``, or ``None`` to estimate it.
        alpha: the noise distribution is ``unigrams ** alpha``, normalised (1: the unigram
            distribution itself, as in the original; 0.75 flattens it, as in word2vec).
        sparse: training calls give ``weight`` and ``bias`` sparse gradients holding only
            the target and noise rows (for ``torch.optim.SGD`` / ``SparseAdam``); default a
            dense gradient with zeros elsewhere. The values are the same either way.

    Shape:
        ``h (*, D)``, ``target (*,)`` int → :class:`NCEOutput`; ``h (*, D)`` → ``(*, V)``
        log-probabilities.

    Example:
        >>> from rnnkit.nce.module import NCEModule
        >>> from rnnkit.nce.criterion import NCECriterion
        >>> nce = NCEModule(8, 100, unigrams=torch.arange(1.0, 101.0), k=5)
        >>> out = nce(torch.randn(4, 8), torch.tensor([1, 2, 3, 4]))
        >>> out.model_target.shape, out.model_noise.shape, NCECriterion()(out).shape
        (torch.Size([4]), torch.Size([4, 5]), torch.Size([]))
        >>> nce(torch.randn(4, 8)).shape  # the full log-softmax
        torch.Size([4, 100])
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        unigrams: torch.Tensor | np.ndarray | Sequence[float],
        k: int = 25,
        z: float | None = None,
        alpha: float = 0.75,
        *,
        sparse: bool = False,
    ) -> None:
        name = type(self).__name__
        input_size = expect_positive_int(name, input_size, "input_size")
        output_size = expect_positive_int(name, output_size, "output_size")
        k = expect_positive_int(name, k, "k")
        if z is not None:
            z = expect_float(name, z, "z (or None)", 0.0, low_open=True)
        alpha = expect_float(name, alpha, "alpha", 0.0)
        q = _noise_distribution(name, unigrams, output_size, alpha)
        super().__init__(input_size, output_size)
        self.k, self.alpha = k, alpha
        self.batch_noise = True
        self.sparse = bool(sparse)
        # In the parameters' dtype (float64 under a float64 default), moved with them.
        dtype = self.weight.dtype
        self.log_noise_probs: torch.Tensor  # buffers, declared for type checkers
        self.z: torch.Tensor
        self.register_buffer("log_noise_probs", q.log().to(dtype))  # (V,) -inf for unused words
        self.register_buffer("z", torch.tensor(z if z is not None else 0.0, dtype=dtype))
        self.noise_index: torch.Tensor | None = None

    def set_unigrams(self, unigrams: torch.Tensor | np.ndarray | Sequence[float]) -> None:
        """Replace the noise distribution by ``unigrams ** alpha``, normalised (``V`` counts)."""
        q = _noise_distribution(type(self).__name__, unigrams, self.out_features, self.alpha)
        self.log_noise_probs.copy_(q.log())

    def reset_parameters(self) -> None:
        """Weight uniform in ``±1/sqrt(D)``, bias ``-log V`` (the original's ``reset()``)."""
        bound = 1 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.constant_(self.bias, -math.log(self.out_features))

    def init_bias_from_unigrams(self, unigrams: torch.Tensor | np.ndarray | Sequence[float]) -> None:
        """Bias ``= log`` of the unigram distribution (counts, zero counts read as 1/2).

        The model then starts as the unigram language model, normalised (``Z = 1`` holds),
        so NCE starts from the best context-free model instead of the uniform one.
        """
        counts = _noise_distribution(type(self).__name__, unigrams, self.out_features, 1.0)
        counts = counts.clamp(min=0.5 * counts[counts > 0].min())
        with torch.no_grad():
            self.bias.copy_((counts / counts.sum()).log())

    def sample_noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        """``shape`` word indices drawn independently from the noise distribution ``q``."""
        # Inverse-CDF sampling, O(log V) a draw. The float64 CDF is rebuilt from the (saved)
        # log-probabilities each call, O(V), small next to the layer's own O(V D) cost.
        cdf = self.log_noise_probs.double().exp().cumsum(0)  # (V,)
        u = torch.rand(shape, dtype=torch.float64, device=cdf.device) * cdf[-1]
        return torch.searchsorted(cdf, u, right=True).clamp_(max=self.out_features - 1)

    # An nn.Linear (so its weights load and copy like one) whose forward also takes targets
    def forward(  # type: ignore[override]
        self,
        input: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
        target: torch.Tensor | None = None,
    ) -> torch.Tensor | NCEOutput:
        """With ``target (*,)`` (or the pair ``(h, target)``): :class:`NCEOutput` for the targets
        and ``K`` noise words; ``h (*, D)`` alone → ``(*, V)`` log-probabilities over all words."""
        name = type(self).__name__
        if target is None and isinstance(input, (tuple, list)):
            if len(input) != 2:
                raise ValueError(
                    f"{name}: expected the pair (h, target), got a {type(input).__name__} "
                    f"of length {len(input)}"
                )
            input, target = input
        h = expect_tensor(name, input)
        if h.dim() < 1 or h.size(-1) != self.in_features:
            raise ValueError(
                f"{name}: expected input of shape (*, {self.in_features}), "
                f"got {describe_shape(tuple(h.shape))}"
            )
        expect_like(name, h, self.weight)
        if target is None:
            return torch.log_softmax(super().forward(h), dim=-1)  # (*, V)
        expect_tensor(name, target, "target")
        expect_integer(name, target, "target")
        if target.shape != h.shape[:-1]:
            raise ValueError(
                f"{name}: expected target of shape {describe_shape(tuple(h.shape[:-1]))} "
                f"(the input's leading dims), got {describe_shape(tuple(target.shape))}"
            )
        if target.numel() and not bool(((target >= 0) & (target < self.out_features)).all()):
            raise ValueError(
                f"{name}: expected target words in [0, {self.out_features - 1}], got values in "
                f"[{target.min().item()}, {target.max().item()}]"
            )
        return self._score(h, target)

    def _score(self, h: torch.Tensor, target: torch.Tensor) -> NCEOutput:
        lead = target.shape
        if self.batch_noise:
            noise = self.sample_noise((self.k,))  # (K,)
            w, b = (
                gather_rows(self.weight, noise, self.sparse),
                gather_rows(self.bias, noise, self.sparse),
            )
            noise_scores = h @ w.t() + b  # (*, K)
            noise_noise = self.log_noise_probs[noise].expand(*lead, self.k)
        else:
            noise = self.sample_noise((*lead, self.k))  # (*, K)
            w = gather_rows(self.weight, noise, self.sparse)  # (*, K, D)
            b = gather_rows(self.bias, noise, self.sparse)
            noise_scores = (w @ h.unsqueeze(-1)).squeeze(-1) + b
            noise_noise = self.log_noise_probs[noise]
        self.noise_index = noise
        w_t = gather_rows(self.weight, target, self.sparse)  # (*, D)
        target_scores = (h * w_t).sum(-1) + gather_rows(self.bias, target, self.sparse)  # (*,)
        if self.z.item() <= 0 and noise_scores.numel():
            with torch.no_grad():  # once: V · E_q-samples[exp(score)], then fixed
                estimate = noise_scores.detach().double().exp().mean() * self.out_features
                self.z.fill_(float(estimate))
        # An empty batch before Z is estimated has no scores to shift.
        log_z = math.log(self.z.item()) if self.z.item() > 0 else 0.0
        return NCEOutput(
            target_scores - log_z,
            noise_scores - log_z,
            self.log_noise_probs[target],
            noise_noise,
        )

    def extra_repr(self) -> str:
        z = self.z.item()
        return (
            f"{super().extra_repr()}, k={self.k}, alpha={self.alpha}, "
            f"z={'estimated at the first call' if z <= 0 else f'{z:.4g}'}"
        )


def _noise_distribution(
    name: str, unigrams: torch.Tensor | np.ndarray | Sequence[float], size: int, alpha: float
) -> torch.Tensor:
    """``unigrams ** alpha``, normalised, as float64 ``(V,)``; clear errors for bad counts."""
    try:
        if isinstance(unigrams, torch.Tensor):
            counts = unigrams.detach().to("cpu", torch.float64)
        else:
            counts = torch.as_tensor(np.asarray(unigrams, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: expected unigrams to be a sequence of {size} numbers, "
            f"got {type(unigrams).__name__}"
        ) from None
    if counts.shape != (size,):
        raise ValueError(
            f"{name}: expected unigrams of shape ({size},) (one per output word), "
            f"got {describe_shape(tuple(counts.shape))}"
        )
    bad = ~torch.isfinite(counts) | (counts < 0)
    if bool(bad.any()):
        raise ValueError(
            f"{name}: expected non-negative finite unigram counts, got {int(bad.sum())} that "
            f"are not (the first: {counts[bad][0].item()} for word {int(bad.nonzero()[0, 0])})"
        )
    q = torch.where(counts > 0, counts.pow(alpha), torch.zeros_like(counts))
    if not q.sum() > 0:
        raise ValueError(f"{name}: expected at least one unigram count > 0, got all {size} zero")
    return q / q.sum()
