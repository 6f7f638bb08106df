"""RecurrentAttentionModel: structure and defaults of the original, REINFORCE training, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.mnist import load_mnist
from rnnkit.models.recurrent_attention_model import RecurrentAttentionModel
from rnnkit.reinforce.normal import ReinforceNormal
from rnnkit.reinforce.vr_class_reward import VRClassReward

TINY = dict(hidden_size=32, glimpse_hidden=16, locator_hidden=16, image_hidden=32, n_glimpses=3)


def test_defaults_follow_the_original_example():
    ram = RecurrentAttentionModel()
    glimpse = ram.glimpse_network
    assert (glimpse.glimpse.size, glimpse.glimpse.depth, glimpse.glimpse.scale) == (8, 1, 2)
    assert glimpse.glimpse_sensor.in_features == 64 and glimpse.glimpse_sensor.out_features == 128
    assert glimpse.location_sensor.out_features == 128 and glimpse.output.out_features == 256
    assert ram.attention.n_step == 7 and ram.classifier.in_features == 256
    (policy,) = [m for m in ram.modules() if isinstance(m, ReinforceNormal)]
    assert policy.stdev == pytest.approx(0.22)  # ReinforceNormal(2 * locatorStd)
    assert ram.locator[-1].factor == pytest.approx(13 * 2 / 28)  # unitPixels * 2 / imageSize


@pytest.mark.parametrize("lstm", [False, True])
def test_shapes_locations_and_eval_determinism(lstm):
    ram = RecurrentAttentionModel(**TINY, lstm=lstm)
    x = torch.rand(5, 1, 28, 28)
    log_probs, baseline = ram(x)
    assert log_probs.shape == (5, 10) and baseline.shape == (5,)
    torch.testing.assert_close(log_probs.exp().sum(1), torch.ones(5))
    locs = ram.glimpse_locations()
    assert locs.shape == (3, 5, 2)
    assert locs.abs().max() <= 13 * 2 / 28 + 1e-6
    assert not torch.equal(locs[0, 0], locs[0, 1])  # training samples the locations
    ram.eval()
    a, b = ram(x)[0], ram(x)[0]
    torch.testing.assert_close(a, b)
    locs = ram.glimpse_locations()
    torch.testing.assert_close(locs[0], locs[0, :1].expand(5, 2))  # mean of a zero state


def test_translated_size_and_unit_pixels():
    ram = RecurrentAttentionModel(60, **TINY)
    assert ram.locator[-1].factor == pytest.approx(26 / 60)
    assert ram(torch.rand(2, 1, 60, 60))[0].shape == (2, 10)


def test_reinforce_reaches_the_locator_and_baseline():
    ram = RecurrentAttentionModel(**TINY)
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    log_probs, baseline = ram(x)
    VRClassReward(ram)((log_probs, baseline), y).backward()  # no classification loss
    assert ram.locator[0].weight.grad.abs().sum() > 0
    assert ram.baseline_bias.grad is not None and ram.baseline_bias.grad != 0
    assert ram.classifier.weight.grad is None  # only the NLL trains the classifier


def overfit(x, y, lr, steps):
    """Train a tiny RAM on ``(x, y)``; return the evaluation-mode training accuracy reached."""
    torch.manual_seed(0)
    ram = RecurrentAttentionModel(**TINY)
    reward = VRClassReward(ram)
    opt = torch.optim.Adam(ram.parameters(), lr=lr)
    for _ in range(steps):
        ram.train()
        log_probs, baseline = ram(x)
        loss = F.nll_loss(log_probs, y) + reward((log_probs, baseline), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ram.eval()
        with torch.no_grad():
            accuracy = (ram(x)[0].argmax(1) == y).float().mean().item()
        if accuracy == 1.0:
            break
    return accuracy


def test_overfits_ten_synthetic_digits():
    x = (torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.7).float()
    assert overfit(x, torch.arange(10), lr=1e-2, steps=300) == 1.0


def test_overfits_a_handful_of_mnist_digits(shared_data):
    images, labels = load_mnist(shared_data / "mnist", "test")
    first = [int(np.flatnonzero(labels == digit)[0]) for digit in range(10)]  # one per class
    x = torch.from_numpy(images[first]).float().div(255).unsqueeze(1)  # (10, 1, 28, 28)
    # seeds 0-4 reach 100 % in 300-800 steps; 1e-2 is too fast for real strokes
    assert overfit(x, torch.from_numpy(labels[first]).long(), lr=3e-3, steps=1000) == 1.0


def test_bad_images():
    ram = RecurrentAttentionModel(**TINY)
    with pytest.raises(
        ValueError,
        match=r"RecurrentAttentionModel: expected images of shape \(N, 1, 28, 28\).*got \(1, 28, 28\)",
    ):
        ram(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match=r"got \(2, 1, 32, 32\)"):
        ram(torch.rand(2, 1, 32, 32))
    with pytest.raises(TypeError, match="floating-point images"):
        ram(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(RuntimeError, match="no forward"):
        RecurrentAttentionModel(**TINY).glimpse_locations()
    with pytest.raises(ValueError, match="n_glimpses"):
        RecurrentAttentionModel(n_glimpses=0)
