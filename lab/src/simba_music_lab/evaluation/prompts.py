"""Evaluation prompts: a JSONL file, one object per line with a `caption` and the labels it states, each optional:
`instrument`, `key` (e.g. "F major", "D minor"), `mode` ("major"/"minor", for a prompt that gives a mood or "a minor
key" but no tonic), `tempo_bpm`, `tempo_band` ("slow"/"moderate"/"fast", `simba_music.captions.vocabulary.TEMPO_BANDS`).
Other fields are kept and copied to the report.

Three shipped sets, by name: "templates" (`prompts_demo.jsonl`: 32 real captions of test clips, in the corpus's
template wording), "freeform" (`prompts_freeform.jsonl`: 35 hand-written prompts in wording the paraphrase
generator never produces, each labelled only with what it states) and "keys" (`prompts_keys.jsonl`: 24 template
chorale prompts, every key once, six tempi); "all" is the three. Each row carries its set's name
in `prompt_set`, so that the report can give accuracies per set."""

from __future__ import annotations

import json
import math
from pathlib import Path

from simba_music.captions import DEMO_PROMPTS, FREEFORM_PROMPTS
from simba_music.captions.vocabulary import MODES, TEMPO_BANDS

from .key import parse_key

# Each of the 24 keys once, at six tempi (58-128 BPM), on the chorale instruments, in template wording: does the
# model play the key it is asked for, and how many different keys does it play at all?
KEY_PROMPTS = Path(__file__).resolve().parent / "prompts_keys.jsonl"
PROMPT_SETS = {"templates": DEMO_PROMPTS, "freeform": FREEFORM_PROMPTS, "keys": KEY_PROMPTS}
ALL_SETS = "all"


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
    if row.get("mode") is not None:
        if row["mode"] not in MODES:
            raise ValueError(f"{where}: 'mode' must be one of {', '.join(MODES)}, got {row['mode']!r}")
        if row.get("key") is not None and parse_key(row["key"])[1] != row["mode"]:
            raise ValueError(f"{where}: 'mode' {row['mode']!r} contradicts 'key' {row['key']!r}")
    if row.get("tempo_band") is not None and row["tempo_band"] not in TEMPO_BANDS:
        raise ValueError(f"{where}: 'tempo_band' must be one of {', '.join(TEMPO_BANDS)}, got {row['tempo_band']!r}")
    tempo = row.get("tempo_bpm")
    if tempo is not None and (isinstance(tempo, bool) or not isinstance(tempo, (int, float))
                              or not math.isfinite(tempo) or tempo <= 0):
        raise ValueError(f"{where}: 'tempo_bpm' must be a number > 0, got {tempo!r}")
    return dict(row)


def prompt_sources(prompts) -> list[tuple[str, object]]:
    """(set name, JSONL path or list of prompt objects) for `prompts`: a set name ("templates", "freeform", "all"),
    a JSONL path (its set is named after the file, the shipped files by their set), or a list of prompt objects."""
    if isinstance(prompts, (list, tuple)):
        return [("prompts", prompts)]
    if str(prompts) == ALL_SETS:
        return list(PROMPT_SETS.items())
    if str(prompts) in PROMPT_SETS:
        return [(str(prompts), PROMPT_SETS[str(prompts)])]
    path = Path(prompts)
    shipped = {source.resolve(): name for name, source in PROMPT_SETS.items()}
    return [(shipped.get(path.resolve() if path.exists() else path, path.stem), path)]


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise ValueError(f"prompts: no such file {str(path)!r} (expected a JSONL file, one object per line, or one "
                         f"of the sets {', '.join([*PROMPT_SETS, ALL_SETS])})")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"prompts: {path.name} line {number}: not valid JSON ({error.msg})") from None
        rows.append(check_prompt(row, f"prompts: {path.name} line {number}"))
    return rows


def read_prompts(prompts) -> list[dict]:
    """A set name, a JSONL file path, or a list of prompt objects -> validated prompt dicts (at least one per set),
    each with its `prompt_set` (kept where a row names its own)."""
    rows = []
    for name, source in prompt_sources(prompts):
        if isinstance(source, (list, tuple)):
            found = [check_prompt(row, f"prompts[{index}]") for index, row in enumerate(source)]
        else:
            found = _read_jsonl(Path(source))
        if not found:
            raise ValueError("prompts: no prompts" if isinstance(source, (list, tuple))
                             else f"prompts: {Path(source).name}: no prompts")
        rows += [{**row, "prompt_set": row.get("prompt_set", name)} for row in found]
    return rows


__all__ = ["ALL_SETS", "DEMO_PROMPTS", "FREEFORM_PROMPTS", "PROMPT_SETS", "check_prompt", "prompt_sources",
           "read_prompts"]
