"""One entry per public class (and the variants that matter), for the generic tests.

Each :class:`Entry` builds a small module and the arguments of one call. ``kind`` says how the
module is called: ``"step"`` (one call is one time step; the generic tests make several
calls), ``"seq"`` (whole sequences, time-major unless the entry is batch-first), ``"layer"``
(stateless) or ``"criterion"`` (``(input, target)`` → a scalar). ``tests/test_registry.py``
runs every generic check over every entry; a public class missing here fails a test there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import rnnkit
from rnnkit.models import LanguageModel, RecurrentAttentionModel

T, N, D, H, V = 3, 3, 3, 4, 7


@dataclass
class Entry:
    id: str
    cls: type
    make: Callable[[], nn.Module]
    inputs: Callable[[torch.dtype], tuple]  # the positional arguments of one call
    kind: str = "seq"
    batch_dim: int = 1  # of every output (and of every input unless arg_batch_dims says)
    state: bool = False  # carries state between calls: get_state / set_state
    calls: int = 1  # calls in one generic run (several: state flows between them)
    feature_size: int | None = D  # the last dim of the first input, when it is a size
    n_index: int | None = None  # the first input holds indices in [0, n_index)
    batch_first: Callable[[nn.Module], nn.Module] | None = None  # the same module, batch-first
    gradcheck: bool = True
    empty_batch: bool = True  # N = 0 gives an empty result (else: a named error)
    # positional args not in gradcheck: no gradient by design, or padding (a jump at 0)
    no_grad_args: tuple = ()
    prepare: Callable | None = None  # called as prepare(module, dtype, args) before each call
    state_width_fixed: bool = True  # set_state refuses a state of another feature size
    arg_batch_dims: tuple | None = None  # the batch dim of each argument, if not all batch_dim

    def __repr__(self) -> str:
        return self.id


def rand(*shape: int, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype)


def padded(*shape: int, dtype=torch.float32, batch_dim: int = 0) -> torch.Tensor:
    """Random input whose row 0 is padding (all zeros) at every step."""
    x = rand(*shape, dtype=dtype)
    x.select(batch_dim, 0).zero_()
    return x


class Cell(nn.Module):
    """A user's cell for ``Recurrence``: ``y = tanh(W [x, y_prev])``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(D + H, H)

    def forward(self, x, y_prev):
        return torch.tanh(self.linear(torch.cat((x, y_prev), -1)))


class Core(nn.Module):
    """The core of a tiny ``RecurrentAttention``: ``h = tanh(W [x, location])``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(D + 2, H)

    def forward(self, x_loc):
        return torch.tanh(self.linear(torch.cat(x_loc, 1)))


def _step(id, cls, make, size=D, **kw) -> Entry:
    kw.setdefault("feature_size", size)
    return Entry(id, cls, make, lambda dt: (rand(N, size, dtype=dt),), kind="step",
                 batch_dim=0, state=True, calls=3, **kw)  # fmt: skip


def _masked_step(id, cls, make, **kw) -> Entry:
    return Entry(id, cls, make, lambda dt: (padded(N, D, dtype=dt),), kind="step",
                 batch_dim=0, state=True, calls=3, no_grad_args=(0,), **kw)  # fmt: skip


def _seq(id, cls, make, bf=None, state=False, **kw) -> Entry:
    return Entry(id, cls, make, lambda dt: (rand(T, N, D, dtype=dt),), batch_first=bf,
                 state=state, calls=2 if state else 1, **kw)  # fmt: skip


def _fused_bf(layer: nn.Module) -> nn.Module:
    twin = type(layer).__new__(type(layer))
    twin.__dict__.update(layer.__dict__)
    twin.__dict__["_parameters"] = dict(layer._parameters)
    twin.batch_first = True
    return twin


def _sequencer_bf(seq: rnnkit.Sequencer) -> nn.Module:
    return rnnkit.Sequencer(seq.module, batch_first=True)


def _vr_inputs(dt):
    return ((torch.log_softmax(rand(N, 3, dtype=dt), 1), rand(N, dtype=dt)),
            torch.randint(3, (N,)))  # fmt: skip


class _Policy(nn.Module):
    """A model whose Reinforce module has recorded one sample (what VRClassReward scores)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(D, 2)
        self.policy = rnnkit.ReinforceNormal(0.5)

    def forward(self, x):
        return self.policy(self.linear(x))


def _vr_make():
    return rnnkit.VRClassReward(_Policy(), scale=1.0)


def _vr_record(criterion, dtype, args):
    """The policy samples once before each loss (for the batch of ``args``), as in training."""
    n = args[0][0].size(0) if isinstance(args[0], tuple) and hasattr(args[0][0], "size") else N
    criterion.module.policy.clear()
    criterion.module.to(dtype)(torch.ones(n, D, dtype=dtype))


def _nce_out(dt):
    k = 2
    return (tuple(rand(*s, dtype=dt) for s in ((N,), (N, k), (N,), (N, k))),)


ENTRIES: list[Entry] = [
    # ---------------------------------------------------------------- step modules
    _step("FastLSTM", rnnkit.FastLSTM, lambda: rnnkit.FastLSTM(D, H)),
    _step("FastLSTM-batchnorm", rnnkit.FastLSTM, lambda: rnnkit.FastLSTM(D, H, batchnorm=True)),
    _step("LSTM", rnnkit.LSTM, lambda: rnnkit.LSTM(D, H)),
    _step("GRU", rnnkit.GRU, lambda: rnnkit.GRU(D, H)),
    _step("GRU-dropout", rnnkit.GRU, lambda: rnnkit.GRU(D, H, p=0.25)),
    _step("GRU-reset_after", rnnkit.GRU, lambda: rnnkit.GRU(D, H, reset_after=True)),
    _step("MuFuRu", rnnkit.MuFuRu, lambda: rnnkit.MuFuRu(D, H)),
    # Its backward adds a penalty's gradient to the identity's: not the forward's Jacobian.
    _step("NormStabilizer", rnnkit.NormStabilizer, lambda: rnnkit.NormStabilizer(beta=2.0),
          size=H, gradcheck=False, state_width_fixed=False, feature_size=None),
    _step("Recurrence", rnnkit.Recurrence, lambda: rnnkit.Recurrence(Cell(), H, 1)),
    _step("Recursor", rnnkit.Recursor,
          lambda: rnnkit.Recursor(nn.Sequential(nn.Linear(D, H), rnnkit.FastLSTM(H, H)))),
    _step("Recurrent", rnnkit.Recurrent,
          lambda: rnnkit.Recurrent(H, nn.Linear(D, H), nn.Linear(H, H), nn.Tanh)),
    _masked_step("FastLSTM-mask_zero", rnnkit.FastLSTM, lambda: rnnkit.FastLSTM(D, H).mask_zero(1)),
    _masked_step("GRU-trim_zero", rnnkit.GRU, lambda: rnnkit.GRU(D, H).trim_zero(1)),
    # ---------------------------------------------------------------- sequence modules
    _seq("Sequencer(FastLSTM)", rnnkit.Sequencer, lambda: rnnkit.Sequencer(rnnkit.FastLSTM(D, H)),
         bf=_sequencer_bf),
    _seq("Sequencer-remember", rnnkit.Sequencer,
         lambda: rnnkit.Sequencer(rnnkit.GRU(D, H)).remember("both"), state=True),
    _seq("Sequencer-stack", rnnkit.Sequencer,
         lambda: rnnkit.Sequencer(nn.Sequential(rnnkit.LSTM(D, H), nn.Linear(H, H),
                                                rnnkit.MuFuRu(H, H))), bf=_sequencer_bf),
    Entry("Sequencer-masked", rnnkit.Sequencer,
          lambda: rnnkit.Sequencer(rnnkit.FastLSTM(D, H).mask_zero(1)),
          lambda dt: (padded(T, N, D, dtype=dt, batch_dim=1),), no_grad_args=(0,)),
    Entry("Sequencer-embedding", rnnkit.Sequencer,
          lambda: rnnkit.Sequencer(nn.Sequential(nn.Embedding(V, D), rnnkit.GRU(D, H))),
          lambda dt: (torch.randint(V, (T, N)),), feature_size=None, n_index=V),
    Entry("Repeater", rnnkit.Repeater, lambda: rnnkit.Repeater(rnnkit.FastLSTM(D, H), 3),
          lambda dt: (rand(N, D, dtype=dt),), batch_dim=1, arg_batch_dims=(0,)),
    _seq("BiSequencer", rnnkit.BiSequencer, lambda: rnnkit.BiSequencer(rnnkit.GRU(D, H))),
    _seq("BiSequencer(SeqLSTM)", rnnkit.BiSequencer,
         lambda: rnnkit.BiSequencer(rnnkit.SeqLSTM(D, H)).remember("both"), state=True),
    _seq("BiSequencerLM", rnnkit.BiSequencerLM, lambda: rnnkit.BiSequencerLM(rnnkit.FastLSTM(D, H))),
    _seq("SeqLSTM", rnnkit.SeqLSTM, lambda: rnnkit.SeqLSTM(D, H), bf=_fused_bf),
    _seq("SeqLSTM-remember", rnnkit.SeqLSTM, lambda: rnnkit.SeqLSTM(D, H).remember("both"),
         state=True),
    Entry("SeqLSTM-maskzero", rnnkit.SeqLSTM, lambda: rnnkit.SeqLSTM(D, H, maskzero=True),
          lambda dt: (padded(T, N, D, dtype=dt, batch_dim=1),), no_grad_args=(0,)),
    _seq("SeqLSTMP", rnnkit.SeqLSTMP, lambda: rnnkit.SeqLSTMP(D, H, 2).remember("both"),
         state=True),
    _seq("SeqGRU", rnnkit.SeqGRU, lambda: rnnkit.SeqGRU(D, H).remember("both"), state=True,
         bf=_fused_bf),
    _seq("SeqRNN", rnnkit.SeqRNN, lambda: rnnkit.SeqRNN(D, H), bf=_fused_bf),
    _seq("VanillaRNN", rnnkit.VanillaRNN, lambda: rnnkit.VanillaRNN(D, H), bf=_fused_bf),
    _seq("SeqBRNN", rnnkit.SeqBRNN, lambda: rnnkit.SeqBRNN(D, H).remember("both"), state=True),
    # Batch-first, so that the output (N, T, H) and the final state (N, H) share a batch dim.
    Entry("Streaming(SeqLSTM)", rnnkit.Streaming,
          lambda: rnnkit.Streaming(rnnkit.SeqLSTM(D, H, batch_first=True).remember("both")),
          lambda dt: (rand(N, T, D, dtype=dt),), batch_dim=0),
    # A deterministic policy, so that the whole loop is differentiable (gradcheck); the
    # REINFORCE policy is in RecurrentAttentionModel.
    Entry("RecurrentAttention", rnnkit.RecurrentAttention,
          lambda: rnnkit.RecurrentAttention(Core(), nn.Sequential(nn.Linear(H, 2), nn.Tanh()), 3, H),
          lambda dt: (rand(N, D, dtype=dt),), batch_dim=0),
    # ---------------------------------------------------------------- layers
    Entry("MaskZero", rnnkit.MaskZero, lambda: rnnkit.MaskZero(nn.Linear(D, H), 1),
          lambda dt: (padded(N, D, dtype=dt),), kind="layer", batch_dim=0, no_grad_args=(0,)),
    Entry("TrimZero", rnnkit.TrimZero, lambda: rnnkit.TrimZero(nn.Linear(D, H), 1),
          lambda dt: (padded(N, D, dtype=dt),), kind="layer", batch_dim=0, no_grad_args=(0,)),
    Entry("LookupTableMaskZero", rnnkit.LookupTableMaskZero, lambda: rnnkit.LookupTableMaskZero(V, D),
          lambda dt: (torch.randint(V + 1, (N, T)),), kind="layer", batch_dim=0,
          feature_size=None, n_index=V + 1),
    Entry("SeqReverseSequence", rnnkit.SeqReverseSequence, lambda: rnnkit.SeqReverseSequence(0),
          lambda dt: (rand(T, N, D, dtype=dt),), kind="layer", feature_size=None),
    Entry("SpatialGlimpse", rnnkit.SpatialGlimpse, lambda: rnnkit.SpatialGlimpse(2, depth=2),
          lambda dt: (rand(N, 1, 6, 6, dtype=dt), torch.rand(N, 2, dtype=dt) * 2 - 1),
          kind="layer", batch_dim=0, feature_size=None, no_grad_args=(1,)),
    Entry("CAddTable", rnnkit.CAddTable, rnnkit.CAddTable,
          lambda dt: (rand(N, D, dtype=dt), rand(N, D, dtype=dt)), kind="layer", batch_dim=0,
          feature_size=None),
    Entry("JoinTable", rnnkit.JoinTable, lambda: rnnkit.JoinTable(-1),
          lambda dt: (rand(N, D, dtype=dt), rand(N, 2, dtype=dt)), kind="layer", batch_dim=0,
          feature_size=None),
    Entry("SelectTable", rnnkit.SelectTable, lambda: rnnkit.SelectTable(1),
          lambda dt: (rand(N, D, dtype=dt), rand(N, 2, dtype=dt)), kind="layer", batch_dim=0,
          feature_size=None),
    Entry("ParallelTable", rnnkit.ParallelTable,
          lambda: rnnkit.ParallelTable(nn.Linear(D, H), nn.Linear(2, H), merge=rnnkit.CAddTable()),
          lambda dt: (rand(N, D, dtype=dt), rand(N, 2, dtype=dt)), kind="layer", batch_dim=0),
    Entry("Bias", rnnkit.Bias, lambda: rnnkit.Bias(D), lambda dt: (rand(N, D, dtype=dt),),
          kind="layer", batch_dim=0),
    Entry("ReinforceNormal", rnnkit.ReinforceNormal, lambda: rnnkit.ReinforceNormal(0.2),
          lambda dt: (rand(N, 2, dtype=dt),), kind="layer", batch_dim=0, feature_size=None,
          gradcheck=False),  # samples carry no gradient (REINFORCE)
    Entry("ReinforceBernoulli", rnnkit.ReinforceBernoulli, rnnkit.ReinforceBernoulli,
          lambda dt: (torch.rand(N, 2, dtype=dt),), kind="layer", batch_dim=0,
          feature_size=None, gradcheck=False),
    Entry("ReinforceCategorical", rnnkit.ReinforceCategorical, rnnkit.ReinforceCategorical,
          lambda dt: (torch.softmax(rand(N, 3, dtype=dt), 1),), kind="layer", batch_dim=0,
          feature_size=None, gradcheck=False),
    Entry("NCEModule", rnnkit.NCEModule,
          lambda: rnnkit.NCEModule(D, V, torch.arange(1.0, V + 1), k=2, z=1.0),
          lambda dt: (rand(N, D, dtype=dt), torch.randint(V, (N,))), kind="layer", batch_dim=0),
    # ---------------------------------------------------------------- criteria
    Entry("SequencerCriterion", rnnkit.SequencerCriterion,
          lambda: rnnkit.SequencerCriterion(nn.MSELoss()),
          lambda dt: (rand(T, N, D, dtype=dt), rand(T, N, D, dtype=dt)), kind="criterion"),
    Entry("RepeaterCriterion", rnnkit.RepeaterCriterion,
          lambda: rnnkit.RepeaterCriterion(nn.MSELoss(reduction="sum")),
          lambda dt: (rand(T, N, D, dtype=dt), rand(N, D, dtype=dt)), kind="criterion",
          arg_batch_dims=(1, 0)),
    Entry("MaskZeroCriterion", rnnkit.MaskZeroCriterion,
          lambda: rnnkit.MaskZeroCriterion(nn.MSELoss(), 1),
          lambda dt: (padded(N, D, dtype=dt), rand(N, D, dtype=dt)), kind="criterion",
          batch_dim=0, no_grad_args=(0,)),
    Entry("NCECriterion", rnnkit.NCECriterion, rnnkit.NCECriterion, _nce_out, kind="criterion",
          batch_dim=0, feature_size=None),
    Entry("SampledSoftmaxCriterion", rnnkit.SampledSoftmaxCriterion,
          rnnkit.SampledSoftmaxCriterion, _nce_out, kind="criterion", batch_dim=0,
          feature_size=None),
    # Its gradient is REINFORCE's (the baseline is detached in the policy term), not the
    # loss's Jacobian; tests/reinforce compares it with the analytic score function.
    Entry("VRClassReward", rnnkit.VRClassReward, _vr_make, _vr_inputs, kind="criterion",
          batch_dim=0, feature_size=None, prepare=_vr_record,
          gradcheck=False),
    # ---------------------------------------------------------------- models
    Entry("LanguageModel", LanguageModel,
          lambda: LanguageModel(V, "lstm", wordvec_size=D, rnn_size=H, num_layers=2),
          lambda dt: (torch.randint(V, (T, N)),), state=True, calls=2, feature_size=None,
          n_index=V),
    Entry("LanguageModel-adaptive", LanguageModel,
          lambda: LanguageModel(V, "lstm", wordvec_size=D, rnn_size=16, num_layers=1,
                                output="adaptive", adaptive_cutoffs=[2, 4]),
          lambda dt: (torch.randint(V, (T, N)),), state=True, calls=2, feature_size=None,
          n_index=V),
    Entry("LanguageModel-tied", LanguageModel,
          lambda: LanguageModel(V, "lstm", wordvec_size=H, rnn_size=H, num_layers=1,
                                tie_weights=True),
          lambda dt: (torch.randint(V, (T, N)),), state=True, calls=2, feature_size=None,
          n_index=V),
    Entry("LanguageModel-gru", LanguageModel,
          lambda: LanguageModel(V, "gru", wordvec_size=D, rnn_size=H, num_layers=1),
          lambda dt: (torch.randint(V, (T, N)),), state=True, calls=2, feature_size=None,
          n_index=V),
    Entry("RecurrentAttentionModel", RecurrentAttentionModel,
          lambda: RecurrentAttentionModel(8, 1, glimpse_size=4, glimpse_hidden=4,
                                          locator_hidden=4, image_hidden=4, hidden_size=H,
                                          n_glimpses=2, n_classes=3),
          lambda dt: (rand(N, 1, 8, 8, dtype=dt),), batch_dim=0, feature_size=None,
          gradcheck=False),  # locations are sampled: REINFORCE, not autograd
]  # fmt: skip

BY_ID = {e.id: e for e in ENTRIES}
ABSTRACT = {rnnkit.AbstractRecurrent, rnnkit.AbstractSequencer, rnnkit.Reinforce}


def public_classes() -> set[type]:
    """Every public class: the names of ``rnnkit`` and ``rnnkit.models``."""
    import inspect

    import rnnkit.models

    found = set()
    for module in (rnnkit, rnnkit.models):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, nn.Module):
                found.add(obj)
    return found - ABSTRACT
