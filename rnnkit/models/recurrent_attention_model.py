"""RecurrentAttentionModel: the RAM of Mnih et al., "Recurrent Models of Visual Attention" (2014).

Replaces the agent built by the original package's ``examples/recurrent-visual-attention.lua``
(Element-Research/rnn), with its structure and defaults: a glimpse network, a core
``Recurrent`` network (or an ``LSTM``), a Gaussian location policy trained with REINFORCE,
a classifier on the last hidden state and a learned constant baseline.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import (
    describe_shape,
    expect_float,
    expect_floating,
    expect_like,
    expect_positive_int,
    expect_tensor,
    named_errors,
)
from ..layers.spatial_glimpse import SpatialGlimpse
from ..recurrent.abstract import AbstractRecurrent
from ..recurrent.lstm import LSTM
from ..recurrent.recurrent import Recurrent
from ..recurrent.recursor import Recursor
from ..reinforce.normal import ReinforceNormal
from ..sequence.recurrent_attention import RecurrentAttention


class GlimpseNetwork(nn.Module):
    """``g = W_o relu(W_i [relu(W_l loc), relu(W_g glimpse(x, loc))] + b_i) + b_o`` (the original's ``glimpse``).

    Also keeps the locations it was given since the last :meth:`clear` (for plotting).

    Shape:
        ``(images (N, C, H, W), location (N, 2))`` → ``(N, hidden_size)``.
    """

    def __init__(self, channels: int, size: int, depth: int, scale: float, glimpse_hidden: int,
                 locator_hidden: int, image_hidden: int, hidden_size: int) -> None:  # fmt: skip
        super().__init__()
        self.glimpse = SpatialGlimpse(size, depth, scale)
        self.glimpse_sensor = nn.Linear(channels * size * size * depth, glimpse_hidden)
        self.location_sensor = nn.Linear(2, locator_hidden)
        self.image_hidden = nn.Linear(glimpse_hidden + locator_hidden, image_hidden)
        self.output = nn.Linear(image_hidden, hidden_size)
        self.locations: list[torch.Tensor] = []

    def clear(self) -> None:
        self.locations = []

    def forward(self, x_loc: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, location = x_loc
        self.locations.append(location.detach())
        patches = self.glimpse(images, location).flatten(1)  # (N, depth * C * size * size)
        g = torch.relu(self.glimpse_sensor(patches))  # (N, glimpse_hidden)
        l = torch.relu(self.location_sensor(location))  # noqa: E741  (N, locator_hidden)
        return self.output(torch.relu(self.image_hidden(torch.cat([l, g], 1))))  # (N, H)


class RecurrentAttentionModel(nn.Module):
    """Classifies images from a few glimpses chosen by a REINFORCE-trained location policy.

    For ``t = 1 .. n_glimpses``: ``h[t] = relu(g(x, l[t]) + W h[t-1])`` (``Recurrent``; at
    ``t = 1`` a learned bias replaces ``W h[0]``), or ``h[t] = LSTM(g(x, l[t]))`` with
    ``lstm=True``; ``l[1]`` comes from a zero hidden state. The locator is
    ``l[t+1] = c · hardtanh(a)``, ``a ~ N(hardtanh(W_l h[t] + b_l), (2 · location_std)²)``,
    with ``c = unit_pixels · 2 / image_size``, as in the original: ``l = ±1`` of the
    :class:`SpatialGlimpse` is the image border, so a policy output of ``±1`` moves the
    glimpse centre about ``unit_pixels`` pixels from the centre. In evaluation mode the
    locator returns the mean (no sampling). The classifier is ``log_softmax(W_c h[T] + b_c)``;
    the baseline is the original's ``Constant(1) → Add(1)``: ``1 + b``, one learned scalar,
    broadcast to the batch. Train with ``F.nll_loss(log_probs, y) +
    VRClassReward(model)((log_probs, baseline), y)``.

    Args:
        image_size: height and width of the (square) images; channels: their channels.
        glimpse_size, glimpse_depth, glimpse_scale: the :class:`SpatialGlimpse`.
        glimpse_hidden, locator_hidden, image_hidden: widths of the glimpse network.
        hidden_size: ``H``, the core network's width. n_glimpses: ``T``.
        location_std: half the policy's standard deviation (the original's ``locatorStd``).
        unit_pixels: see above. n_classes: output classes. lstm: an LSTM core.

    Shape:
        ``images (N, channels, image_size, image_size)`` → ``(log_probs (N, n_classes),
        baseline (N,))``.

    Example:
        >>> ram = RecurrentAttentionModel(hidden_size=32, n_glimpses=3).eval()
        >>> log_probs, baseline = ram(torch.rand(4, 1, 28, 28))
        >>> log_probs.shape, baseline.shape, ram.glimpse_locations().shape
        (torch.Size([4, 10]), torch.Size([4]), torch.Size([3, 4, 2]))
    """

    def __init__(
        self,
        image_size: int = 28,
        channels: int = 1,
        *,
        glimpse_size: int = 8,
        glimpse_depth: int = 1,
        glimpse_scale: float = 2,
        glimpse_hidden: int = 128,
        locator_hidden: int = 128,
        image_hidden: int = 256,
        hidden_size: int = 256,
        n_glimpses: int = 7,
        location_std: float = 0.11,
        unit_pixels: float = 13,
        n_classes: int = 10,
        lstm: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        ints = dict(image_size=image_size, channels=channels, glimpse_hidden=glimpse_hidden,
                    locator_hidden=locator_hidden, image_hidden=image_hidden,
                    hidden_size=hidden_size, n_glimpses=n_glimpses, n_classes=n_classes)  # fmt: skip
        for key, value in ints.items():
            expect_positive_int(name, value, key)
        unit_pixels = expect_float(name, unit_pixels, "unit_pixels", 0.0, low_open=True)
        with named_errors(name):  # the glimpse and policy modules check their own arguments
            self._build(image_size, channels, glimpse_size, glimpse_depth, glimpse_scale,
                        glimpse_hidden, locator_hidden, image_hidden, hidden_size, n_glimpses,
                        location_std, unit_pixels, n_classes, lstm)  # fmt: skip

    def _build(self, image_size: int, channels: int, glimpse_size: int, glimpse_depth: int,
               glimpse_scale: float, glimpse_hidden: int, locator_hidden: int, image_hidden: int,
               hidden_size: int, n_glimpses: int, location_std: float, unit_pixels: float,
               n_classes: int, lstm: bool) -> None:  # fmt: skip
        self.image_size, self.channels = image_size, channels
        H = hidden_size
        self.glimpse_network = GlimpseNetwork(
            channels, glimpse_size, glimpse_depth, glimpse_scale,
            glimpse_hidden, locator_hidden, image_hidden, H,
        )  # fmt: skip
        core: AbstractRecurrent
        if lstm:
            core = Recursor(nn.Sequential(self.glimpse_network, LSTM(H, H)))
        else:
            core = Recurrent(H, self.glimpse_network, nn.Linear(H, H), nn.ReLU)
        self.locator = nn.Sequential(
            nn.Linear(H, 2),
            nn.Hardtanh(),  # the mean stays in [-1, 1]
            ReinforceNormal(2 * location_std),
            nn.Hardtanh(),  # so does the sample
            _Scale(unit_pixels * 2 / image_size),
        )
        self.attention = RecurrentAttention(core, self.locator, n_glimpses, H)
        self.classifier = nn.Linear(H, n_classes)
        self.baseline_bias = nn.Parameter(torch.zeros(()))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log_probs (N, n_classes), baseline (N,))`` for ``images (N, channels, S, S)``."""
        name = type(self).__name__
        expect_tensor(name, images, "images")
        expect_floating(name, images, "images")
        expect_like(name, images, self.baseline_bias, "images")
        expected = (self.channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"{name}: expected images of shape (N, {', '.join(map(str, expected))}) "
                f"got {describe_shape(tuple(images.shape))}"
            )
        self.glimpse_network.clear()
        with named_errors(name):
            hidden = self.attention(images)  # n_glimpses × (N, H)
        log_probs = torch.log_softmax(self.classifier(hidden[-1]), dim=1)  # (N, n_classes)
        baseline = (1 + self.baseline_bias).expand(images.size(0))  # (N,)
        return log_probs, baseline

    def glimpse_locations(self) -> torch.Tensor:
        """``(n_glimpses, N, 2)``: the ``(y, x)`` glimpse locations of the last forward, in [-1, 1]."""
        if not self.glimpse_network.locations:
            raise RuntimeError(f"{type(self).__name__}: no forward has been run yet")
        return torch.stack(self.glimpse_network.locations)


class _Scale(nn.Module):
    """Multiplies by a constant (the original's ``nn.MulConstant``)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:.4g}"
