"""SpatialGlimpse: the original's crop geometry, pooling, zero padding, gradients, errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from rnnkit.layers.spatial_glimpse import SpatialGlimpse


def _ramp(n=1, c=2, h=8, w=8, dtype=torch.float32):
    return torch.arange(n * c * h * w, dtype=dtype).view(n, c, h, w) + 1


def _reference(images, location, size, depth, scale):
    """The original's algorithm, one sample and one patch at a time with explicit slicing."""
    out = []
    for img, (y, x) in zip(images, location.tolist()):
        patches = []
        for k in range(depth):
            g = math.floor(size * scale**k)
            pad = (g - 1) // 2
            padded = F.pad(img, (pad, pad, pad, pad))
            ph, pw = padded.shape[1:]
            y0 = math.floor(min(max((y + 1) / 2 * (ph - g), 0), ph - g))
            x0 = math.floor(min(max((x + 1) / 2 * (pw - g), 0), pw - g))
            patch = padded[:, y0 : y0 + g, x0 : x0 + g].unsqueeze(0)
            if g != size:
                patch = F.avg_pool2d(patch, g // size, g // size)
            patches.append(patch[0])
        out.append(torch.cat(patches, 0))
    return torch.stack(out)


def test_centre_location_gives_the_central_crop():
    img = _ramp()
    out = SpatialGlimpse(4, depth=1)(img, torch.zeros(1, 2))
    assert_close(out, img[:, :, 2:6, 2:6])  # rows/cols 3..6 of the original (1-based)


def test_corner_locations_give_the_zero_padded_corner_crops():
    img = _ramp()
    padded = F.pad(img, (1, 1, 1, 1))  # pad = floor((4 - 1) / 2)
    glimpse = SpatialGlimpse(4, depth=1)
    assert_close(glimpse(img, torch.tensor([[-1.0, -1.0]])), padded[:, :, 0:4, 0:4])
    assert_close(glimpse(img, torch.tensor([[1.0, 1.0]])), padded[:, :, 6:10, 6:10])
    # (y, x) order: y = -1 is the top row, x = 1 the right column
    assert_close(glimpse(img, torch.tensor([[-1.0, 1.0]])), padded[:, :, 0:4, 6:10])


def test_outside_the_image_is_zero():
    out = SpatialGlimpse(4, depth=1)(torch.ones(1, 1, 8, 8), torch.tensor([[-1.0, -1.0]]))
    assert (out[0, 0, 0, :] == 0).all() and (out[0, 0, :, 0] == 0).all()
    assert (out[0, 0, 1:, 1:] == 1).all()


@pytest.mark.parametrize(
    "size, depth, scale, hw, expected_c",
    [(4, 3, 2, (8, 8), 6), (5, 2, 2, (8, 8), 4), (3, 2, 3, (10, 7), 4), (4, 1, 2, (3, 3), 2)],
)
def test_output_shape_is_depth_times_channels_by_size(size, depth, scale, hw, expected_c):
    out = SpatialGlimpse(size, depth, scale)(torch.randn(3, 2, *hw), torch.rand(3, 2) * 2 - 1)
    assert out.shape == (3, expected_c, size, size)


@pytest.mark.parametrize("size, depth, scale", [(4, 3, 2), (5, 2, 2), (3, 3, 3), (2, 3, 2)])
def test_batched_glimpses_equal_the_sliced_and_avg_pooled_reference(size, depth, scale):
    images = torch.randn(5, 3, 20, 17)
    location = torch.tensor([[0.0, 0.0], [-1, -1], [1, 1], [0.37, -0.81], [-0.6, 0.95]])
    out = SpatialGlimpse(size, depth, scale)(images, location)
    assert_close(out, _reference(images, location, size, depth, scale))


def test_patches_are_ordered_smallest_first():
    img = _ramp(c=1, h=16, w=16)
    out = SpatialGlimpse(4, depth=2)(img, torch.zeros(1, 2))
    assert_close(out[:, 0], img[0, :, 6:10, 6:10])  # pad 1, start 7 of the padded image
    assert_close(out[:, 1], F.avg_pool2d(img[:, :, 4:12, 4:12], 2)[:, 0])


def test_sides_that_are_not_multiples_of_size_are_resized_bilinearly():
    images, location = torch.randn(2, 1, 12, 12), torch.tensor([[0.2, -0.4], [0.0, 1.0]])
    out = SpatialGlimpse(4, depth=2, scale=1.5)(images, location)  # second patch: side 6
    crops = SpatialGlimpse(6, depth=1)(images, location)
    expected = F.interpolate(crops, size=(4, 4), mode="bilinear", align_corners=False)
    assert_close(out[:, 1:], expected)


def test_location_outside_the_range_is_clamped():
    images = torch.randn(2, 2, 9, 9)
    glimpse = SpatialGlimpse(3, depth=2)
    far = glimpse(images, torch.tensor([[-5.0, 3.0], [1.5, -1.01]]))
    assert_close(far, glimpse(images, torch.tensor([[-1.0, 1.0], [1.0, -1.0]])))


def test_float32_and_float64_locations_land_on_the_same_pixels():
    images = torch.randn(64, 1, 28, 28)
    location = torch.rand(64, 2) * 2 - 1
    glimpse = SpatialGlimpse(8, depth=3)
    assert_close(glimpse(images, location), glimpse(images, location.double()))


def test_gradient_reaches_the_image_but_not_the_location():
    images = torch.randn(2, 1, 8, 8, requires_grad=True)
    location = torch.zeros(2, 2, requires_grad=True)
    SpatialGlimpse(4, depth=1)(images, location).sum().backward()
    assert location.grad is None
    expected = torch.zeros(2, 1, 8, 8)
    expected[:, :, 2:6, 2:6] = 1  # depth 1: the gradient lands on the crop region
    assert_close(images.grad, expected)


@pytest.mark.parametrize("scale", [2, 1.5])
def test_gradcheck_wrt_the_image(scale):
    images = torch.randn(2, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    location = torch.tensor([[0.3, -0.7], [-1.0, 0.9]], dtype=torch.float64)
    glimpse = SpatialGlimpse(2, depth=2, scale=scale)
    assert torch.autograd.gradcheck(lambda im: glimpse(im, location), (images,))


@pytest.mark.parametrize(
    "images, location, error, pattern",
    [
        (torch.randn(2, 8, 8), torch.zeros(2, 2), ValueError, r"images of shape \(N, C, H, W\)"),
        (torch.randn(2, 1, 8, 8), torch.zeros(2, 3), ValueError, r"location of shape \(2, 2\)"),
        (torch.randn(2, 1, 8, 8), torch.zeros(3, 2), ValueError, r"location of shape \(2, 2\)"),
        (torch.randn(2, 1, 8, 8), torch.zeros(2), ValueError, r"location of shape \(2, 2\)"),
        (torch.ones(2, 1, 8, 8, dtype=torch.long), torch.zeros(2, 2), TypeError, "floating"),
        (torch.randn(2, 1, 8, 8), torch.zeros(2, 2, dtype=torch.long), TypeError, "location"),
        (torch.randn(2, 1, 8, 8), [[0.0, 0.0]] * 2, TypeError, "torch.Tensor"),
    ],
)
def test_bad_inputs_name_spatial_glimpse(images, location, error, pattern):
    with pytest.raises(error, match=f"SpatialGlimpse: .*{pattern}"):
        SpatialGlimpse(4)(images, location)


@pytest.mark.parametrize(
    "args", [(0,), (4, 0), (4, 2, 0), (4, 2, -1.0), (2.5,), (4, 2, True), (1, 2, 0.4)]
)
def test_bad_constructor_arguments(args):
    with pytest.raises(ValueError, match="SpatialGlimpse: "):
        SpatialGlimpse(*args)
