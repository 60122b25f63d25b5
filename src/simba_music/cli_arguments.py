"""argparse options built from a config dataclass, so that each option's name, type and default live in one place."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, positional: tuple[str, ...] = (),
                            options: dict[str, dict] | None = None, skip: tuple[str, ...] = (),
                            aliases: dict[str, tuple[str, ...]] | None = None) -> None:
    """One option per field of `cls`: `--field-name`, typed and defaulted from the field; booleans become
    `--name/--no-name`; `tuple[T, ...]` fields take several values. Fields in `positional` become positional
    arguments; `options` adds argparse keywords (help, choices) per field; `aliases` adds older flag names per field;
    fields in `skip` and dict fields are left out."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        if spec.name in skip or hint is dict or typing.get_origin(hint) is dict:
            continue
        extra = dict((options or {}).get(spec.name, {}))
        extra["help"] = extra.get("help") or comments.get(spec.name) or spec.name.replace("_", " ")
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


def field_comments(cls) -> dict[str, str]:
    """`name: type = default  # comment` -> {name: comment}: the dataclass's own comments become the help text."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return {name: text.strip() for name, text in re.findall(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, flags=re.M)}


def dataclass_from_arguments(cls, args: argparse.Namespace, **overrides):
    """`cls(**...)` from the parsed options that `add_dataclass_arguments` added (tuples stay tuples)."""
    values = {}
    for spec in dataclasses.fields(cls):
        if hasattr(args, spec.name):
            value = getattr(args, spec.name)
            values[spec.name] = tuple(value) if isinstance(value, list) else value
    values.update(overrides)
    return cls(**values)


__all__ = ["add_dataclass_arguments", "dataclass_from_arguments", "field_comments"]
