"""Command-line flags generated from a configuration dataclass (one ``--flag`` per field).

Each flag's value is checked as it is parsed, by the rule its field names (``check``,
``choices``, ``device``), so a bad value ends the command at once with one line. The parser
also records which flags were given: on ``--resume`` those apply or are refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar

from ..training.checks import Check, ConfigError, check_device, check_value, flag_name
from ..training.loop_config import LoopConfig, resume_rule

GIVEN = "_given_flags"
if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_C = TypeVar("_C", bound="DataclassInstance")


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each flag's default, unless its help already says what it is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None:  # "(default: None)" would say nothing
            return text
        return super()._get_help_string(action) or text


def _flag_type(cls: type, f: dataclasses.Field) -> Any:
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]  # Optional[X] -> X
    return args[0] if args else hint


def checked(
    kind: Callable[[str], Any],
    flag: str,
    check: Check | None = None,
    choices: Collection[object] | None = None,
    device: bool = False,
) -> Callable[[str], Any]:
    """An argparse ``type``: ``kind(text)``, then the rule; errors name the flag."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            expected = check.expected if check is not None else f"a {kind.__name__}"
            raise argparse.ArgumentTypeError(f"{flag} must be {expected}, got {text!r}") from None
        try:
            check_value("", flag, value, check, choices)
            if device:
                check_device("", flag, value)
        except ConfigError as e:  # as typed: "got -1", not "got -1.0"
            shown = repr(text) if kind is str else text
            message = str(e).removeprefix(": ").replace(f"got {value!r}", f"got {shown}")
            raise argparse.ArgumentTypeError(message) from None
        return value

    convert.__name__ = kind.__name__  # argparse names the type in some messages
    return convert


def _recording(base: type[argparse.Action]) -> type[argparse.Action]:
    # mypy cannot check a class whose base is a run-time value; the base is an argparse Action
    class Recorded(base):  # type: ignore[misc, valid-type]
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: Any,
            option_string: str | None = None,
        ) -> None:
            super().__call__(parser, namespace, values, option_string)
            namespace.__dict__.setdefault(GIVEN, set()).add(self.dest)

    return Recorded


_STORE = _recording(argparse._StoreAction)
_BOOL = _recording(argparse.BooleanOptionalAction)


def add_config_flags(parser: argparse.ArgumentParser, cls: type, required: tuple[str, ...] = ()) -> None:
    """``--field-name`` for every field of the dataclass ``cls``, with its help and checks.

    The task's own options come first, then those of the training loop (:class:`LoopConfig`).
    """
    loop = {f.name for f in dataclasses.fields(LoopConfig)}
    groups = {False: parser.add_argument_group("data and model"),
              True: parser.add_argument_group("training loop")}  # fmt: skip
    fields = sorted(dataclasses.fields(cls), key=lambda f: f.name in loop)
    for f in fields:
        flag, kind, meta = flag_name(f.name), _flag_type(cls, f), f.metadata
        help_text = meta["help"] + (
            " [may change on --resume]" if resume_rule(f) == "applies" else ""
        )
        names = (flag, *meta.get("aliases", ()))
        group = groups[f.name in loop]
        if kind is bool:
            group.add_argument(*names, action=_BOOL, default=f.default, help=help_text)
            continue
        group.add_argument(
            *names, type=checked(kind, flag, meta.get("check"), meta.get("choices"),
                                 meta.get("device", False)),
            default=f.default, choices=meta.get("choices"), required=f.name in required,
            help=help_text, action=_STORE,
        )  # fmt: skip


def config_from_args(cls: type[_C], args: argparse.Namespace) -> _C:
    """The dataclass ``cls`` filled from parsed flags."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def given_flags(args: argparse.Namespace) -> set[str]:
    """The destinations of the flags given on the command line."""
    return set(getattr(args, GIVEN, set()))
