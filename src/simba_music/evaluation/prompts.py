"""Evaluation prompts: a JSONL file, one object per line with a `caption` and optional expected `instrument`, `key`
(e.g. "F major", "D minor") and `tempo_bpm`. Other fields are kept and copied to the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .key import parse_key

DEMO_PROMPTS = Path(__file__).resolve().parent / "prompts_demo.jsonl"


def check_prompt(row, where: str) -> dict:
    """One prompt object, validated; `where` names it in errors (e.g. "prompts.jsonl line 3")."""
    if not isinstance(row, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
    caption = row.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"{where}: needs a non-empty string 'caption', got {caption!r}")
    if row.get("instrument") is not None and not isinstance(row["instrument"], str):
        raise ValueError(f"{where}: 'instrument' must be a string, got {row['instrument']!r}")
    if row.get("key") is not None:
        try:
            parse_key(row["key"])
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    tempo = row.get("tempo_bpm")
    if tempo is not None and (isinstance(tempo, bool) or not isinstance(tempo, (int, float))
                              or not math.isfinite(tempo) or tempo <= 0):
        raise ValueError(f"{where}: 'tempo_bpm' must be a number > 0, got {tempo!r}")
    return dict(row)


def read_prompts(prompts) -> list[dict]:
    """A JSONL file path, or a list of prompt objects -> validated prompt dicts (at least one)."""
    if isinstance(prompts, (list, tuple)):
        rows = [check_prompt(row, f"prompts[{index}]") for index, row in enumerate(prompts)]
        source = "prompts"
    else:
        path = Path(prompts)
        if not path.is_file():
            raise ValueError(f"prompts: no such file {str(prompts)!r} (expected a JSONL file, one object per line)")
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"prompts: {path.name} line {number}: not valid JSON ({error.msg})") from None
            rows.append(check_prompt(row, f"prompts: {path.name} line {number}"))
        source = f"prompts: {path.name}"
    if not rows:
        raise ValueError(f"{source}: no prompts")
    return rows


__all__ = ["DEMO_PROMPTS", "check_prompt", "read_prompts"]
