"""A live stream's prompt mix: weighted prompts, checked before any work, and parsed from a typed line.

A mix is a tuple of (prompt, weight) pairs. Weights are relative: the stream normalises them to sum 1, so that the
guidance scale means the same whatever the user typed ("1 harp; 1 organ" is "0.5 harp; 0.5 organ").
"""

from __future__ import annotations

import math

from ..modeling.processing import check_prompts

# Each prompt is one batch row of every decoding step; the demo page offers four sliders.
DEFAULT_MAX_PROMPTS = 4
MAX_PROMPTS_LIMIT = 16

Mix = tuple[tuple[str, float], ...]


def check_max_prompts(max_prompts: int) -> int:
    if isinstance(max_prompts, bool) or not isinstance(max_prompts, int) or not 1 <= max_prompts <= MAX_PROMPTS_LIMIT:
        raise ValueError(f"max_prompts: must be an integer in [1, {MAX_PROMPTS_LIMIT}], got {max_prompts!r}")
    return max_prompts


def check_mix(prompts, max_prompts: int = DEFAULT_MAX_PROMPTS) -> Mix:
    """A prompt (weight 1), or a sequence of (prompt, weight) pairs -> the mix as a tuple of pairs. Refuses an
    empty mix, more than `max_prompts` prompts, a prompt given twice, and weights that are negative, not finite or
    all zero (one prompt at weight 0 is fine: a slider pulled down)."""
    if isinstance(prompts, str):
        prompts = [(prompts, 1.0)]
    if isinstance(prompts, dict):
        prompts = list(prompts.items())
    if not isinstance(prompts, (list, tuple)) or not 1 <= len(prompts) <= max_prompts:
        count = len(prompts) if isinstance(prompts, (list, tuple)) else type(prompts).__name__
        raise ValueError(f"prompts: give 1 to {max_prompts} (prompt, weight) pairs, got {count}")
    pairs = []
    for index, pair in enumerate(prompts):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"prompts[{index}]: must be a (prompt, weight) pair, got {pair!r}")
        text, weight = pair
        check_prompts([text])
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"weights: each must be a finite number >= 0, got {weight!r} for {text!r}")
        pairs.append((text, float(weight)))
    texts = [text for text, _ in pairs]
    if len(set(texts)) != len(texts):
        raise ValueError(f"prompts: each prompt at most once (merge the weights), got {texts}")
    if not any(weight > 0 for _, weight in pairs):
        raise ValueError("weights: at least one must be > 0 (they are relative), got all 0")
    return tuple(pairs)


def parse_mix(line: str, max_prompts: int = DEFAULT_MAX_PROMPTS) -> Mix:
    """`0.7 calm harp; 0.3 church organ` -> (("calm harp", 0.7), ("church organ", 0.3)). A part without a leading
    number has weight 1. A leading number is always a weight, so a prompt that begins with a number is quoted or
    given a weight first: `"80 BPM organ"` and `1 80 BPM organ` are both ("80 BPM organ", 1.0). Raises ValueError
    saying what is wrong with the line."""
    parts = [part.strip() for part in line.split(";") if part.strip()]
    if not parts:
        raise ValueError("prompt line: empty; type e.g. '0.7 calm harp; 0.3 church organ'")
    pairs = []
    for part in parts:
        if part[0] in QUOTES:
            pairs.append((_unquoted(part), 1.0))
            continue
        first, _, rest = part.partition(" ")
        try:
            weight = float(first)
        except ValueError:
            pairs.append((part, 1.0))
            continue
        if not rest.strip():
            raise ValueError(f"prompt line: {part!r} has a weight but no prompt")
        rest = rest.strip()
        pairs.append((_unquoted(rest) if rest[0] in QUOTES else rest, weight))
    return check_mix(pairs, max_prompts)


QUOTES = "\"'"


def _unquoted(text: str) -> str:
    if len(text) < 2 or text[-1] != text[0]:
        raise ValueError(f"prompt line: {text!r} opens a quote it does not close")
    return text[1:-1]


def normalized_weights(mix: Mix) -> list[float]:
    total = sum(weight for _, weight in mix)
    return [weight / total for _, weight in mix]


def format_mix(mix: Mix) -> str:
    return "; ".join(f"{weight:g} {text}" for text, weight in mix)


__all__ = ["DEFAULT_MAX_PROMPTS", "MAX_PROMPTS_LIMIT", "Mix", "check_max_prompts", "check_mix", "format_mix",
           "normalized_weights", "parse_mix"]
