"""A malformed-input sweep over every registry entry: no unnamed error, no crash, no silent acceptance.

Each case takes one entry's valid call, breaks it one way (or several), calls the module and
classifies the outcome:

* ``ok``: it ran (and, for the cases that must be refused, that is a ``silent`` failure);
* ``named``: ``ValueError``/``TypeError`` whose message starts with the called class's name;
* ``unnamed``: any other exception, or a message that does not name the class.

``python -m tests.sweep [--examples N]`` runs a hypothesis sweep and prints the counts;
tests/test_sweep.py runs every break once per entry and a short random sweep.
"""

from __future__ import annotations

import argparse
import inspect
import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.registry import ENTRIES, Entry


def _first(args: tuple) -> torch.Tensor:
    return args[0] if isinstance(args[0], torch.Tensor) else args[0][0]


def _replace_first(args: tuple, new) -> tuple:
    if isinstance(args[0], torch.Tensor):
        return (new, *args[1:])
    return ((new, *args[0][1:]), *args[1:])


def _has_params(module) -> bool:
    return any(p.is_floating_point() for p in module.parameters())


def _floating(args) -> bool:
    return _first(args).is_floating_point()


# A break: (name, applies(entry, args), make(entry, args) -> args, must_refuse(entry, module, args)).
def _extra_dim(e, a):
    return _replace_first(a, _first(a).unsqueeze(0))


def _drop_dim(e, a):
    return _replace_first(a, _first(a)[0])


def _wider(e, a):
    x = _first(a)
    return _replace_first(a, torch.cat((x, x[..., :1]), -1))


def _float64(e, a):
    return _replace_first(a, _first(a).double())


def _as_long(e, a):
    return _replace_first(a, _first(a).long())


def _as_float(e, a):
    return _replace_first(a, _first(a).float())


def _empty_batch(e, a):
    dims = e.arg_batch_dims or (e.batch_dim,) * len(a)

    def cutter(dim):
        return lambda t: t.narrow(dim, 0, 0) if t.dim() > dim else t

    return tuple(_map(cutter(d), x) for x, d in zip(a, dims))


def _empty_time(e, a):
    return _replace_first(a, _first(a).narrow(0, 0, 0))


def _nan(e, a):
    x = _first(a).clone()
    x.view(-1)[-1] = math.nan
    return _replace_first(a, x)


def _id_too_big(e, a):
    x = _first(a).clone()
    x.view(-1)[0] = e.n_index
    return _replace_first(a, x)


def _id_negative(e, a):
    x = _first(a).clone()
    x.view(-1)[0] = -1
    return _replace_first(a, x)


def _not_a_tensor(e, a):
    return _replace_first(a, "not a tensor")


def _other_batch(e, a):
    """The second tensor argument with one more row."""
    x = a[1]
    return (a[0], torch.cat((x, x[:1])), *a[2:])


def _map(fn, obj):
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return (
            type(obj)(_map(fn, o) for o in obj)
            if not hasattr(obj, "_fields")
            else type(obj)(*[_map(fn, o) for o in obj])
        )
    return obj


def _user_wrapper(e) -> bool:
    """Wraps a module the user gave: that module decides which shapes and dtypes it takes."""
    import rnnkit

    wrappers = (rnnkit.Recurrence, rnnkit.Recursor, rnnkit.Recurrent, rnnkit.MaskZero,
                rnnkit.TrimZero, rnnkit.ParallelTable, rnnkit.RecurrentAttention)  # fmt: skip
    return issubclass(e.cls, wrappers)


def _shaped(e) -> bool:
    """The entry checks the rank of its first input (step and sequence modules, models)."""
    return e.kind in ("step", "seq")


BREAKS: dict[str, tuple[Callable, Callable, Callable]] = {
    "extra_dim": (lambda e, a: True, _extra_dim, lambda e, m, a: not _user_wrapper(e) and (e.kind == "step" or e.feature_size is not None and e.kind == "seq")),
    "drop_dim": (lambda e, a: _first(a).dim() > 1, _drop_dim, lambda e, m, a: not _user_wrapper(e) and _shaped(e) and e.kind != "criterion"),
    "wider": (lambda e, a: e.feature_size is not None, _wider, lambda e, m, a: True),
    "float64": (lambda e, a: _floating(a), _float64, lambda e, m, a: _has_params(m) and not _user_wrapper(e)),
    "as_long": (lambda e, a: _floating(a), _as_long, lambda e, m, a: _has_params(m) and not _user_wrapper(e)),
    "as_float": (lambda e, a: e.n_index is not None, _as_float, lambda e, m, a: True),
    "empty_batch": (lambda e, a: True, _empty_batch, lambda e, m, a: False),
    "empty_time": (lambda e, a: e.kind == "seq" and _first(a).dim() >= 2, _empty_time, lambda e, m, a: False),
    "nan": (lambda e, a: _floating(a), _nan, lambda e, m, a: False),
    "id_too_big": (lambda e, a: e.n_index is not None, _id_too_big, lambda e, m, a: True),
    "id_negative": (lambda e, a: e.n_index is not None, _id_negative, lambda e, m, a: True),
    "not_a_tensor": (lambda e, a: True, _not_a_tensor, lambda e, m, a: e.id != "SelectTable"),
    "other_batch": (lambda e, a: len(a) > 1 and isinstance(a[1], torch.Tensor) and a[1].dim() > 0 and e.batch_dim == 0,
                    _other_batch, lambda e, m, a: e.id not in ("SelectTable",)),
}  # fmt: skip


def classify(entry: Entry, module, args: tuple, must_refuse: bool, empty: bool = False) -> str:
    """``ok`` / ``named`` / ``unnamed: …`` / ``silent`` / ``bad empty: …`` for one call."""
    name = entry.cls.__name__
    try:
        if entry.prepare is not None:
            entry.prepare(module, torch.float32, args)
        out = module(*args)
    except (ValueError, TypeError) as e:
        return "named" if str(e).startswith(f"{name}:") else f"unnamed: {type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - every escape is what the sweep reports
        return f"unnamed: {type(e).__name__}: {e}"
    if must_refuse:
        return "silent"
    if empty:
        for t in _tensors(out):
            if t.is_floating_point() and t.dim() == 0 and not torch.isfinite(t):
                return f"bad empty: a loss of {t.item()}"
    return "ok"


def _tensors(obj) -> list:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return []


def run_case(entry: Entry, breaks: list[str], seed: int = 0, training: bool = True) -> str:
    torch.manual_seed(seed)
    module = entry.make().train(training)
    args = entry.inputs(torch.float32)
    must_refuse = False
    for b in breaks:
        applies, make, refuse = BREAKS[b]
        first = _first(args)
        if not isinstance(first, torch.Tensor) or first.numel() == 0 and b != "empty_batch":
            return "n/a"  # an earlier break left nothing to break this way
        if not applies(entry, args):
            return "n/a"
        must_refuse = must_refuse or refuse(entry, module, args)
        args = make(entry, args)
    if "empty_batch" in breaks:
        must_refuse = False  # no rows left to hold the bad value or size
    outcome = classify(entry, module, args, must_refuse, empty="empty_batch" in breaks)
    if breaks == ["empty_batch"] and entry.empty_batch and outcome == "named":
        return "refused empty batch"
    return outcome


# ---------------------------------------------------------------- constructor arguments
SIZES = {"input_size", "output_size", "hidden_size", "n_index", "n_output", "size", "n_step",
         "vocab_size", "wordvec_size", "rnn_size", "num_layers", "k", "depth", "image_size",
         "channels", "n_classes", "n_glimpses", "rho"}  # fmt: skip
FLOATS = {"stdev", "beta", "p", "eps", "momentum", "scale", "z", "alpha", "dropout", "nce_alpha"}
BAD_INTS = [0, -1, 2.5, "4", math.nan, None]
BAD_FLOATS = [math.nan, math.inf, -math.inf, "x"]


def constructor_cases() -> list[tuple[type, str, object, dict]]:
    """``(cls, argument, bad value, the other arguments)`` for every numeric argument."""
    import rnnkit
    from rnnkit.models import LanguageModel

    valid = {
        rnnkit.FastLSTM: dict(input_size=3, output_size=4, batchnorm=True),
        rnnkit.LSTM: dict(input_size=3, output_size=4), rnnkit.GRU: dict(input_size=3, output_size=4),
        rnnkit.MuFuRu: dict(input_size=3, output_size=4), rnnkit.NormStabilizer: {},
        rnnkit.SeqLSTM: dict(input_size=3, output_size=4), rnnkit.SeqGRU: dict(input_size=3, output_size=4),
        rnnkit.SeqRNN: dict(input_size=3, output_size=4), rnnkit.SeqBRNN: dict(input_size=3, output_size=4),
        rnnkit.SeqLSTMP: dict(input_size=3, hidden_size=4, output_size=2),
        rnnkit.LookupTableMaskZero: dict(n_index=5, n_output=3),
        rnnkit.SpatialGlimpse: dict(size=2), rnnkit.ReinforceNormal: dict(stdev=0.1),
        rnnkit.NCEModule: dict(input_size=3, output_size=5, unigrams=[1.0] * 5),
        rnnkit.Repeater: dict(module=rnnkit.FastLSTM(3, 3), n_step=2),
        LanguageModel: dict(vocab_size=5),
    }  # fmt: skip
    cases = []
    for cls, kwargs in valid.items():
        for name, p in inspect.signature(cls).parameters.items():
            kind = _numeric_kind(name, p)
            if kind is None:
                continue
            for bad in BAD_INTS if kind == "int" else BAD_FLOATS:
                if bad is None and p.default is None:
                    continue
                cases.append((cls, name, bad, {**kwargs, name: bad}))
        for name in kwargs:
            if name in SIZES:
                cases.append((cls, name, np.int64(3), {**kwargs, name: np.int64(3)}))
    return cases


def _numeric_kind(name: str, p: inspect.Parameter) -> str | None:
    if name in FLOATS:
        return "float"
    if name in SIZES or (isinstance(p.default, int) and not isinstance(p.default, bool)):
        return "int"
    if isinstance(p.default, float) or name in FLOATS:
        return "float"
    return None


def run_constructor_case(cls, name, bad, kwargs) -> str:
    try:
        cls(**kwargs)
    except (ValueError, TypeError) as e:
        ok = str(e).startswith(f"{cls.__name__}:")
        return "named" if ok else f"unnamed: {type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001
        return f"unnamed: {type(e).__name__}: {e}"
    if isinstance(bad, np.integer):
        return "ok"
    return "silent" if _invalid(name, bad) else "ok"


def _invalid(name: str, bad) -> bool:
    if isinstance(bad, str) or (isinstance(bad, float) and not math.isfinite(bad)):
        return True
    if name in SIZES:
        return not isinstance(bad, int) or bad < 1
    return isinstance(bad, float) and name not in FLOATS


# ---------------------------------------------------------------- hypothesis
FAMILIES = {"extra_dim": "rank", "drop_dim": "rank", "float64": "dtype", "as_long": "dtype",
            "as_float": "dtype", "id_too_big": "ids", "id_negative": "ids"}  # fmt: skip


def _family(name: str) -> str:
    """Two breaks of one family could undo each other (a dim added, then dropped): one per case."""
    return FAMILIES.get(name, name)


def sweep(examples: int) -> Counter:
    counts: Counter = Counter()
    found: dict[str, str] = {}

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.sampled_from(ENTRIES), st.lists(st.sampled_from(sorted(BREAKS)), min_size=1, max_size=2,
                                              unique_by=_family), st.integers(0, 9), st.booleans())  # fmt: skip
    def case(entry, breaks, seed, training):
        outcome = run_case(entry, breaks, seed, training)
        counts[outcome.split(":")[0]] += 1
        if outcome.startswith(("unnamed", "silent", "bad")):
            found.setdefault(f"{entry.id} {'+'.join(breaks)}", outcome)

    case()
    for case_args in constructor_cases():
        outcome = run_constructor_case(*case_args)
        counts["ctor " + outcome.split(":")[0]] += 1
        if outcome.startswith(("unnamed", "silent")):
            found.setdefault(f"{case_args[0].__name__}({case_args[1]}={case_args[2]!r})", outcome)
    counts.update({"found": len(found)})
    sweep.found = found
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    args = parser.parse_args()
    counts = sweep(args.examples)
    print(dict(counts))
    for key, outcome in sorted(sweep.found.items()):
        print(f"{key}: {outcome[:200]}")


if __name__ == "__main__":
    main()
