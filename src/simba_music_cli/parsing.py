"""argparse for every command: options built from argument dataclasses, help with one default each, the
subcommand's usage on a mistake and a close match for a mistyped flag. Plain Python: imports nothing heavy."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, positional: tuple[str, ...] = (),
                            options: dict[str, dict] | None = None, skip: tuple[str, ...] = (),
                            aliases: dict[str, tuple[str, ...]] | None = None) -> None:
    """One option per field of `cls`: `--field-name`, typed and defaulted from the field, its help from the field's
    `metadata={"help": ...}` (transformers' HfArgumentParser convention, so the same dataclasses serve it too; it is
    not used here because importing transformers takes about a second, over the command line's budget); booleans become
    `--name/--no-name`; `tuple[T, ...]` fields take several values. Fields in `positional` become positional
    arguments; `options` adds argparse keywords (help, choices) per field; `aliases` adds older flag names per field;
    fields in `skip` and dict fields are left out."""
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        if spec.name in skip or hint is dict or typing.get_origin(hint) is dict:
            continue
        extra = dict((options or {}).get(spec.name, {}))
        extra["help"] = extra.get("help") or spec.metadata.get("help") or spec.name.replace("_", " ")
        if spec.name in positional:
            parser.add_argument(spec.name, **extra)
            continue
        flags = ("--" + spec.name.replace("_", "-"), *(aliases or {}).get(spec.name, ()))
        required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        default = None if required else (spec.default if spec.default_factory is dataclasses.MISSING
                                         else spec.default_factory())
        if hint is bool:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, default=default, dest=spec.name, **extra)
            continue
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
        base = next(t for t in typing.get_args(hint) if t is not type(None)) if optional else hint
        if typing.get_origin(base) is tuple:
            element = typing.get_args(base)[0]
            parser.add_argument(*flags, nargs="+", type=element, default=default, dest=spec.name, **extra)
            continue
        parser.add_argument(*flags, type=base if base in (int, float, str) else str, default=default,
                            required=required, dest=spec.name, **extra)


def dataclass_from_arguments(cls, args: argparse.Namespace, **overrides):
    """`cls(**...)` from the parsed options that `add_dataclass_arguments` added (tuples stay tuples)."""
    values = {}
    for spec in dataclasses.fields(cls):
        if hasattr(args, spec.name):
            value = getattr(args, spec.name)
            values[spec.name] = tuple(value) if isinstance(value, list) else value
    values.update(overrides)
    return cls(**values)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default once: not where the help already says it, not for a required option or a flag,
    and not when it is None (the help then says what happens)."""

    def _get_help_string(self, action):
        text = action.help or ""
        no_default = action.default is None or action.default is argparse.SUPPRESS or isinstance(action.default, bool)
        if "default" in text.lower() or action.required or no_default or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """An unknown option is reported with the usage of the (sub)command it was given to and its closest match
    ("did you mean --guidance?"), rather than with the top-level usage."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            command = chosen_command(self, parsed)
            command.error(unrecognized_message(command, unknown))
        return parsed


def chosen_command(parser: argparse.ArgumentParser, parsed: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand parser that `parsed` went through."""
    while True:
        action = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(parsed, action.dest, None) if action is not None else None
        if name not in (action.choices if action is not None else {}):
            return parser
        parser = action.choices[name]


def unrecognized_message(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    flags = [flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")]
    message = f"unrecognized arguments: {' '.join(unknown)}"
    for word in unknown:
        if word.startswith("--"):
            close = difflib.get_close_matches(word.split("=", 1)[0], flags, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]}?"
                break
    return message


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every command's help shows each option's default (`HelpFormatter`), whichever module added the command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.formatter_class = HelpFormatter
                show_defaults(command)


__all__ = ["ArgumentParser", "HelpFormatter", "add_dataclass_arguments", "chosen_command", "dataclass_from_arguments",
           "show_defaults", "unrecognized_message"]
