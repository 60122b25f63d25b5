"""Checks shared by every entry point: a number in a range, a JSON file, keys against a schema. Each error names the
parameter (a CLI flag, a form field, a config key) and what is allowed."""

from __future__ import annotations

import difflib
import json
import math
import os
from pathlib import Path


def check_number(name: str, value, low: float | None = None, high: float | None = None, low_open: bool = False,
                 high_open: bool = False) -> float:
    """`value` as a finite float within [low, high] (open ends where asked; None: unbounded), else a ValueError
    naming `name` and the interval."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number, got {value!r}") from None
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or below or above:
        interval = (f"{'(' if low_open or low is None else '['}{'-inf' if low is None else f'{low:g}'}, "
                    f"{'inf' if high is None else f'{high:g}'}{')' if high_open or high is None else ']'}")
        raise ValueError(f"{name}: must be in {interval}, got {number:g}")
    return number


def read_json_file(path: str | os.PathLike, option: str):
    """The parsed JSON in `path`; a missing file or a syntax error is a ValueError naming the option, the file and
    the place."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{option}: cannot read {str(path)!r} ({getattr(error, 'strerror', None) or error})") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{option}: {str(path)!r} is not valid JSON ({error})") from None


def check_keys(values: dict, known, where: str) -> None:
    """Refuse keys of `values` outside `known`, with the closest known key as a suggestion: a typo such as
    num_hiden_layers must not silently fall back to a default."""
    unknown = sorted(set(values) - set(known))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(known), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(hints)}")


__all__ = ["check_keys", "check_number", "read_json_file"]
