"""Every flag of every subcommand has help text, and ``--help`` of train/sample/evaluate shows defaults."""

import argparse

import pytest

from rnnkit.cli import build_parser


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def flags(parser):
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


def test_every_subcommand_is_walked():
    assert set(subparsers()) == {"preprocess", "train", "sample", "evaluate", "ram"}


@pytest.mark.parametrize("command", sorted(subparsers()))
def test_every_flag_has_help_text(command):
    missing = [a.option_strings[0] for a in flags(subparsers()[command])
               if not (a.help or "").strip() or a.help == argparse.SUPPRESS]  # fmt: skip
    assert not missing, f"{command}: flags without help text: {missing}"


@pytest.mark.parametrize("command", ["train", "sample", "evaluate"])
def test_help_shows_every_default(command):
    parser = subparsers()[command]
    formatter = parser._get_formatter()
    silent = []
    for action in flags(parser):
        if action.required:
            continue
        shown = formatter._expand_help(action) if action.help else ""
        if "default" not in shown:
            silent.append(action.option_strings[0])
    assert not silent, f"{command} --help: flags that do not show their default: {silent}"
    text = parser.format_help()
    assert "(default: " in text


def test_sample_help_names_the_sampling_defaults():
    text = " ".join(subparsers()["sample"].format_help().split())
    for piece in ("--top-k TOP_K", "(0: off) (default: 0)", "(1.0: off) (default: 1.0)",
                  "--num-samples", "--start-file", "--seed SEED"):  # fmt: skip
        assert piece in text
