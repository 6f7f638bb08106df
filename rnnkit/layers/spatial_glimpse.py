"""SpatialGlimpse: multi-resolution retina patches around a location, the original ``nn.SpatialGlimpse``.

Replaces dpnn's ``nn.SpatialGlimpse`` (Element-Research/rnn), the glimpse sensor of the
Recurrent Attention Model (Mnih et al., "Recurrent Models of Visual Attention", 2014),
with the original's geometry (zero padding, crop placement, average pooling).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import describe_shape, expect_floating, expect_positive_int, expect_tensor


class SpatialGlimpse(nn.Module):
    """Extracts ``depth`` square patches centred on a location, resized to ``size`` and stacked.

    For ``k = 0 .. depth-1`` the patch side is ``g = floor(size * scale**k)``. As in the
    original, each dimension of the image (length ``L``) is zero-padded by
    ``pad = floor((g - 1) / 2)`` on both sides and the patch starts at
    ``floor(clamp((loc + 1) / 2 * (L + 2 pad - g), 0, L + 2 pad - g))`` of the padded
    image, so ``loc = -1`` puts the top-left corner of the padded image in the patch,
    ``loc = 1`` the bottom-right and ``loc = 0`` the centre. Pixels outside the image are
    zero. A patch larger than ``size`` is reduced by average pooling (kernel = stride =
    ``g / size``) when ``g`` is a multiple of ``size``, otherwise by bilinear interpolation
    (the original used nnx's ``SpatialReSampling``). The patches are concatenated along
    the channels, smallest first.

    The glimpse is differentiable w.r.t. the image; no gradient flows to the location
    (it is detached: a location policy learns only through REINFORCE). A location outside
    [-1, 1] is clamped to [-1, 1] (the patch stays at the border of the padded image).

    Args:
        size: side of the output patches (and of the smallest patch).
        depth: number of patches.
        scale: ratio between the sides of successive patches (a number > 0).

    Shape:
        ``images (N, C, H, W)``, ``location (N, 2)`` as ``(y, x)`` in [-1, 1] →
        ``(N, depth * C, size, size)``.

    Example:
        >>> from rnnkit.layers.spatial_glimpse import SpatialGlimpse
        >>> glimpse = SpatialGlimpse(8, depth=3, scale=2)
        >>> glimpse(torch.randn(5, 1, 28, 28), torch.zeros(5, 2)).shape
        torch.Size([5, 3, 8, 8])
    """

    def __init__(self, size: int, depth: int = 3, scale: float = 2) -> None:
        super().__init__()
        name = type(self).__name__
        self.size = expect_positive_int(name, size, "size")
        self.depth = expect_positive_int(name, depth, "depth")
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float))
            or not math.isfinite(scale)
            or scale <= 0
        ):
            raise ValueError(f"{name}: expected scale to be a number > 0, got {scale!r}")
        self.scale = scale
        self.patch_sizes = [int(math.floor(size * scale**k)) for k in range(depth)]
        if min(self.patch_sizes) < 1:
            raise ValueError(
                f"{name}: size={size}, scale={scale} give a patch side below 1 ({self.patch_sizes})"
            )

    def _check(self, images: torch.Tensor, location: torch.Tensor) -> None:
        name = type(self).__name__
        expect_tensor(name, images, "images")
        expect_floating(name, images, "images")
        if images.dim() != 4 or min(images.shape[1:]) < 1:
            raise ValueError(
                f"{name}: expected images of shape (N, C, H, W) with C, H, W >= 1, "
                f"got {describe_shape(tuple(images.shape))}"
            )
        expect_tensor(name, location, "location")
        expect_floating(name, location, "location")
        n = images.size(0)
        if tuple(location.shape) != (n, 2):
            raise ValueError(
                f"{name}: expected location of shape ({n}, 2) as (y, x), "
                f"got {describe_shape(tuple(location.shape))}"
            )
        if location.device != images.device:
            raise ValueError(
                f"{name}: expected location on the images' device {images.device}, "
                f"got {location.device}"
            )

    def forward(self, images: torch.Tensor, location: torch.Tensor) -> torch.Tensor:
        """The ``depth`` patches around ``location (N, 2)`` of ``images (N, C, H, W)``, each resized
        to ``size``: ``(N, depth * C, size, size)``."""
        self._check(images, location)
        # Positions are computed in float64 like the original's Lua numbers, so a float32
        # location lands on the same pixel.
        exact = torch.float32 if images.device.type == "mps" else torch.float64
        loc = location.detach().to(exact).clamp(-1, 1)
        patches = [self._patch(images, loc, g) for g in self.patch_sizes]
        return torch.cat(patches, dim=1)  # (N, depth * C, size, size)

    def _patch(self, images: torch.Tensor, loc: torch.Tensor, g: int) -> torch.Tensor:
        n, c, h, w = images.shape
        rows, row_ok = _window(loc[:, 0], h, g)  # (N, g)
        cols, col_ok = _window(loc[:, 1], w, g)  # (N, g)
        # Two gathers (rows, then columns) take the exact crop without a loop over the batch;
        # indices outside the image are clamped for the gather, then zeroed by the mask.
        idx = rows.clamp(0, h - 1).view(n, 1, g, 1).expand(n, c, g, w)
        patch = images.gather(2, idx)  # (N, C, g, W)
        idx = cols.clamp(0, w - 1).view(n, 1, 1, g).expand(n, c, g, g)
        patch = patch.gather(3, idx)  # (N, C, g, g)
        inside = (row_ok.view(n, 1, g, 1) & col_ok.view(n, 1, 1, g)).to(images.dtype)
        patch = patch * inside
        if g == self.size:
            return patch
        if g % self.size == 0:
            k = g // self.size
            return F.avg_pool2d(patch, kernel_size=k, stride=k)  # (N, C, size, size)
        return F.interpolate(
            patch, size=(self.size, self.size), mode="bilinear", align_corners=False
        )

    def extra_repr(self) -> str:
        return f"size={self.size}, depth={self.depth}, scale={self.scale}"


def _window(loc: torch.Tensor, length: int, g: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Image indices ``(N, g)`` of a patch of side ``g`` along one dimension, and which are inside."""
    pad = (g - 1) // 2
    room = max(length + 2 * pad - g, 0)  # positions the patch can take in the padded image
    start = torch.floor(((loc + 1) / 2 * room).clamp(0, room)).long() - pad  # (N,)
    idx = start.unsqueeze(1) + torch.arange(g, device=loc.device)  # (N, g)
    return idx, (idx >= 0) & (idx < length)
