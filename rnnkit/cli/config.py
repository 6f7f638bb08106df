"""Command-line flags generated from a configuration dataclass (one ``--flag`` per field)."""

from __future__ import annotations

import argparse
import dataclasses
import typing


def _flag_type(cls, f: dataclasses.Field):
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]  # Optional[X] -> X
    return args[0] if args else hint


def add_config_flags(parser: argparse.ArgumentParser, cls, required: tuple[str, ...] = ()) -> None:
    """``--field-name`` for every field of the dataclass ``cls``, with its help and choices."""
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        kind = _flag_type(cls, f)
        help_text = f.metadata["help"]
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text
            )
        else:
            parser.add_argument(
                flag, type=kind, default=f.default, choices=f.metadata.get("choices"),
                required=f.name in required, help=help_text,
            )  # fmt: skip


def config_from_args(cls, args: argparse.Namespace):
    """The dataclass ``cls`` filled from parsed flags."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})
