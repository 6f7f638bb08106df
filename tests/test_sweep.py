"""The malformed-input sweep (tests/sweep.py) finds nothing: every error is named, nothing crashes."""

import warnings

import pytest

from tests.registry import ENTRIES
from tests.sweep import BREAKS, constructor_cases, run_case, run_constructor_case, sweep

FAILURES = ("unnamed", "silent", "bad", "refused")


@pytest.mark.parametrize("entry", ENTRIES, ids=repr)
def test_every_break_gives_a_result_or_a_named_error(entry):
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in BREAKS:
            for training in (True, False):
                outcome = run_case(entry, [name], seed=0, training=training)
                if outcome.startswith(FAILURES):
                    found[f"{name} ({'train' if training else 'eval'})"] = outcome
    assert not found, found


@pytest.mark.parametrize(
    "case", constructor_cases(), ids=lambda c: f"{c[0].__name__}-{c[1]}-{c[2]!r}"
)
def test_bad_constructor_arguments_are_refused_by_name(case):
    outcome = run_constructor_case(*case)
    assert not outcome.startswith(FAILURES), outcome


def test_random_combinations_of_breaks():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts = sweep(150)
    assert counts["found"] == 0, sweep.found
