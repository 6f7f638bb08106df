"""RecurrentAttention: the RAM loop order, first action input, outputs, gradients, errors."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnkit.layers.spatial_glimpse import SpatialGlimpse
from rnnkit.recurrent.recurrent import Recurrent
from rnnkit.recurrent.recursor import Recursor
from rnnkit.reinforce.normal import ReinforceNormal
from rnnkit.reinforce.vr_class_reward import VRClassReward
from rnnkit.sequence.abstract import AbstractSequencer
from rnnkit.sequence.recurrent_attention import RecurrentAttention

N, D, H, S = 3, 5, 4, 3


class Glimpse(nn.Module):
    """Takes ``(x, location)``; logs what it sees when given a log."""

    def __init__(self, log=None):
        super().__init__()
        self.linear = nn.Linear(D + 2, H)
        self.log = log

    def forward(self, x_loc):
        x, loc = x_loc
        if self.log is not None:
            self.log.append(("rnn", x, loc))
        return self.linear(torch.cat([x, loc], 1))


class Logged(nn.Module):
    def __init__(self, module, log):
        super().__init__()
        self.module, self.log = module, log

    def forward(self, h):
        out = self.module(h)
        self.log.append(("action", h, out))
        return out


def _ram(stdev=0.1, n_step=S, log=None):
    core = Recurrent(H, Glimpse(log), nn.Linear(H, H), nn.Tanh)
    action = nn.Sequential(nn.Linear(H, 2), nn.Hardtanh(), ReinforceNormal(stdev))
    return RecurrentAttention(core, Logged(action, log) if log is not None else action, n_step, H)


def test_loop_order_first_action_input_and_outputs():
    log = []
    ram = _ram(log=log)
    x = torch.randn(N, D)
    hs = ram(x)
    assert isinstance(ram, AbstractSequencer)
    assert isinstance(hs, list) and len(hs) == S and all(h.shape == (N, H) for h in hs)
    assert [e[0] for e in log] == ["action", "rnn"] * S  # no action after the last step
    assert torch.equal(log[0][1], torch.zeros(N, H))  # a[1] = action(zeros)
    for t in range(S):
        _, act_in, act_out = log[2 * t]
        _, rnn_x, rnn_loc = log[2 * t + 1]
        assert rnn_x is x and rnn_loc is act_out  # h[t] = rnn((x, a[t]))
        if t:
            assert act_in is hs[t - 1]  # a[t+1] = action(h[t])


def test_the_rnn_carries_its_state_and_every_call_starts_afresh():
    ram = _ram().eval()
    x = torch.randn(N, D)
    hs = ram(x)
    core = ram.rnn
    core.forget()
    loc = ram.action(torch.zeros(N, H))
    by_hand = []
    for _ in range(S):
        by_hand.append(core((x, loc)))
        loc = ram.action(by_hand[-1])
    assert_close(hs, by_hand)
    assert_close(ram(x), hs)  # forgotten: the same episode again
    assert not torch.allclose(hs[0], hs[1])


def test_tuple_hidden_size_gives_zeros_of_that_shape():
    log = []
    action = Logged(nn.Sequential(nn.Flatten(), nn.Linear(2 * 2, 2)), log)
    core = nn.Sequential(Glimpse(), nn.Unflatten(1, (2, 2)))
    hs = RecurrentAttention(core, action, 2, (2, 2))(torch.randn(N, D))
    assert torch.equal(log[0][1], torch.zeros(N, 2, 2)) and hs[1].shape == (N, 2, 2)
    assert isinstance(RecurrentAttention(core, action, 2, (2, 2)).rnn, Recursor)


def test_the_action_learns_only_through_reinforce_and_the_rnn_from_both():
    ram = _ram()
    classifier = nn.Sequential(nn.Linear(H, 3), nn.LogSoftmax(1))
    baseline = nn.Parameter(torch.zeros(1))
    x, target = torch.randn(N, D, requires_grad=True), torch.tensor([0, 1, 2])
    log_probs = classifier(ram(x)[-1])
    assert ram.action.module[2].n_recorded == S  # one sampled location per step
    nn.functional.nll_loss(log_probs, target).backward(retain_graph=True)
    assert all(p.grad is None for p in ram.action.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ram.rnn.parameters())
    assert x.grad.abs().sum() > 0
    rnn_grads = [p.grad.clone() for p in ram.rnn.parameters()]

    VRClassReward(ram)((log_probs, baseline.expand(N)), target).backward()
    assert all(p.grad.abs().sum() > 0 for p in ram.action.parameters())
    # REINFORCE also flows back through h[t] into the rnn, as the original's gradInput did
    assert any(not torch.equal(p.grad, g) for p, g in zip(ram.rnn.parameters(), rnn_grads))


def test_each_forward_clears_the_previous_records():
    ram = _ram()
    ram(torch.randn(N, D))
    ram(torch.randn(N, D))
    assert ram.action.module[2].n_recorded == S
    ram.eval()
    ram(torch.randn(N, D))
    assert ram.action.module[2].n_recorded == 0


def test_end_to_end_with_spatial_glimpse_gives_no_classification_gradient_to_locations():
    seen = []

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.glimpse, self.linear = SpatialGlimpse(4, 2), nn.Linear(2 * 4 * 4 + 2, H)

        def forward(self, x_loc):
            image, loc = x_loc
            seen.append(loc)
            return self.linear(torch.cat([self.glimpse(image, loc).flatten(1), loc], 1))

    ram = RecurrentAttention(
        Recurrent(H, Net(), nn.Linear(H, H), nn.ReLU),
        nn.Sequential(nn.Linear(H, 2), nn.Tanh(), ReinforceNormal(0.2)),
        S,
        H,
    )
    hs = ram(torch.randn(N, 1, 12, 12))
    assert len(seen) == S and not any(loc.requires_grad for loc in seen)
    hs[-1].sum().backward()
    assert all(p.grad is None for p in ram.action.parameters())


def test_errors_name_recurrent_attention():
    core, action = Glimpse(), nn.Linear(H, 2)
    with pytest.raises(ValueError, match="RecurrentAttention: expected n_step"):
        RecurrentAttention(core, action, 0, H)
    for bad in (0, (2, -1), "4", True, 2.0):
        with pytest.raises(ValueError, match="RecurrentAttention: expected hidden_size"):
            RecurrentAttention(core, action, 2, bad)
    with pytest.raises(TypeError, match="RecurrentAttention: expected an nn.Module"):
        RecurrentAttention(lambda x: x, action, 2, H)
    ram = RecurrentAttention(core, action, 2, H)
    with pytest.raises(
        ValueError, match=r"RecurrentAttention: remember\('both'\) is not supported"
    ):
        ram.remember()
    with pytest.raises(TypeError, match="RecurrentAttention: expected x"):
        ram("image")
    wrong = RecurrentAttention(core, nn.Linear(H + 1, 2), 2, H + 1)
    with pytest.raises(ValueError, match=r"RecurrentAttention: .*\(3, 5\).*got \(3, 4\)"):
        wrong(torch.randn(N, D))
