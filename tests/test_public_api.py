"""The public names of DESIGN.md sections 2-5 that exist today, with their constructor arguments."""

import inspect
import sys

import pytest
from torch import nn

import rnnkit

_REQ = inspect.Parameter.empty

# name -> [(argument, default or _REQ, keyword_only)] in DESIGN.md order
CONTRACT = {
    "AbstractRecurrent": [("rho", 9999, False)],
    "Recurrence": [
        ("module", _REQ, False),
        ("output_size", _REQ, False),
        ("n_input_dim", _REQ, False),
        ("rho", 9999, False),
    ],
    "Recursor": [("module", _REQ, False), ("rho", 9999, False)],
    "Recurrent": [
        ("start", _REQ, False),
        ("input", _REQ, False),
        ("feedback", _REQ, False),
        ("transfer", nn.Sigmoid, False),
        ("rho", 99999, False),
        ("merge", None, False),
    ],
    "LSTM": [("input_size", _REQ, False), ("output_size", _REQ, False), ("rho", 9999, False)],
    "FastLSTM": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("rho", 9999, False),
        ("batchnorm", False, True),
        ("eps", 0.1, True),
        ("momentum", 0.1, True),
        ("affine", True, True),
    ],
    "GRU": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("rho", 9999, False),
        ("p", 0.0, False),
        ("mono", False, False),
    ],
    "MuFuRu": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("ops", None, False),
        ("rho", 9999, False),
    ],
    "NormStabilizer": [("beta", 1.0, False)],
    "Sequencer": [("module", _REQ, False), ("batch_first", False, False)],
    "Repeater": [("module", _REQ, False), ("n_step", _REQ, False)],
    "SequencerCriterion": [("criterion", _REQ, False), ("size_average", False, False)],
    "RepeaterCriterion": [("criterion", _REQ, False)],
    # issue 3: fused layers and bidirectional decorators
    "BiSequencer": [("fwd", _REQ, False), ("bwd", None, False), ("merge", None, False)],
    "BiSequencerLM": [("fwd", _REQ, False), ("bwd", None, False), ("merge", None, False)],
    "SeqLSTM": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("batch_first", False, False),
        ("maskzero", False, False),
    ],
    "SeqLSTMP": [
        ("input_size", _REQ, False),
        ("hidden_size", _REQ, False),
        ("output_size", _REQ, False),
        ("batch_first", False, False),
        ("maskzero", False, False),
    ],
    "SeqGRU": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("batch_first", False, False),
        ("maskzero", False, False),
    ],
    "SeqRNN": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("batch_first", False, False),
    ],
    "VanillaRNN": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("batch_first", False, False),
    ],
    "SeqBRNN": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("batch_first", False, False),
        ("merge", None, False),
    ],
    "SeqReverseSequence": [("dim", _REQ, False)],
    # issue 4: masking
    "MaskZero": [("module", _REQ, False), ("n_input_dim", _REQ, False)],
    "TrimZero": [("module", _REQ, False), ("n_input_dim", _REQ, False)],
    "LookupTableMaskZero": [("n_index", _REQ, False), ("n_output", _REQ, False)],
    "MaskZeroCriterion": [("criterion", _REQ, False), ("n_input_dim", _REQ, False)],
    # issue 6: attention and REINFORCE
    "RecurrentAttention": [
        ("rnn", _REQ, False),
        ("action", _REQ, False),
        ("n_step", _REQ, False),
        ("hidden_size", _REQ, False),
    ],
    "ReinforceNormal": [("stdev", _REQ, False)],
    "ReinforceCategorical": [],
    "ReinforceBernoulli": [],
    "VRClassReward": [("module", _REQ, False), ("scale", 1.0, False)],
    "SpatialGlimpse": [("size", _REQ, False), ("depth", 3, False), ("scale", 2, False)],
    # noise-contrastive estimation (DESIGN section 5)
    "NCEModule": [
        ("input_size", _REQ, False),
        ("output_size", _REQ, False),
        ("unigrams", _REQ, False),
        ("k", 25, False),
        ("z", None, False),
        ("alpha", 0.75, False),
    ],
    "NCECriterion": [],
}


@pytest.mark.parametrize("name", CONTRACT)
def test_exported(name):
    assert name in rnnkit.__all__
    obj = getattr(rnnkit, name)
    assert inspect.isclass(obj) and issubclass(obj, nn.Module)


@pytest.mark.parametrize("name", CONTRACT)
def test_constructor_arguments(name):
    params = inspect.signature(getattr(rnnkit, name)).parameters
    positional = [
        p.name for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    wanted_positional = [arg for arg, _, kw_only in CONTRACT[name] if not kw_only]
    # DESIGN's positional arguments come first, in DESIGN's order
    assert positional[: len(wanted_positional)] == wanted_positional
    for arg, default, kw_only in CONTRACT[name]:
        assert arg in params, f"{name} has no argument {arg!r}"
        p = params[arg]
        assert p.default == default, f"{name}({arg}=...) default {p.default!r} != {default!r}"
        if kw_only:
            assert p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    # anything beyond DESIGN's arguments is optional
    extra = [p for n, p in params.items() if n not in {a for a, _, _ in CONTRACT[name]}]
    assert all(p.default is not _REQ or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in extra)


def test_step_modules_are_abstract_recurrent():
    for name in ("Recurrence", "Recursor", "Recurrent", "LSTM", "FastLSTM", "GRU", "MuFuRu"):
        assert issubclass(getattr(rnnkit, name), rnnkit.AbstractRecurrent), name
    assert issubclass(rnnkit.NormStabilizer, rnnkit.AbstractRecurrent)


def test_all_is_consistent():
    assert len(rnnkit.__all__) == len(set(rnnkit.__all__))
    for name in rnnkit.__all__:
        assert hasattr(rnnkit, name), name


def test_import_prints_nothing(capsys):
    saved = {k: v for k, v in sys.modules.items() if k == "rnnkit" or k.startswith("rnnkit.")}
    for k in saved:
        del sys.modules[k]
    try:
        import rnnkit as fresh  # noqa: F401

        out = capsys.readouterr()
        assert out.out == "" and out.err == ""
    finally:
        for k in [k for k in sys.modules if k == "rnnkit" or k.startswith("rnnkit.")]:
            del sys.modules[k]
        sys.modules.update(saved)
