"""The keys a caption states ("in F# minor", "Dm", "B flat major", "e♭-major"), read where they are written.

Key steering reads a prompt's key with this; the evaluation's prompt labels (`simba_music_lab`) read it the same way.
"""

from __future__ import annotations

import re

from ..audio.keys import parse_key

_ACCIDENTAL = r"(#|♯|♭|b|\s?-?sharp|\s?-?flat)?"
_KEY_PATTERNS = (
    re.compile(r"(?<![A-Za-z])([A-G])" + _ACCIDENTAL + r"\s?-?(?i:(major|minor|maj|min))(?![a-z])"),
    re.compile(r"(?<![A-Za-z])([A-G])(#|♯|♭|b)?(m)(?![a-z])"),  # "Dm", "Bbm", "F#m"
    re.compile(r"(?<![A-Za-z])([a-g])(#|♯|♭|-sharp|-flat)?-(major|minor)(?![a-z])"),  # "d-minor"
)


def _key_label(letter: str, accidental: str | None, mode: str) -> tuple[int, str]:
    accidental = (accidental or "").strip().lstrip("-")
    sign = "#" if accidental in ("#", "♯", "sharp") else "b" if accidental in ("b", "♭", "flat") else ""
    mode = "minor" if mode.lower() in ("minor", "min", "m") else "major"
    return parse_key(f"{letter.upper()}{sign} {mode}")


def find_keys(text: str) -> list[tuple[tuple[int, str], tuple[int, int]]]:
    """Each key `text` states: ((tonic pitch class, mode), (start, end) of its words), patterns tried in order, a
    matched span masked before the next pattern so that it is read once."""
    found = []
    for pattern in _KEY_PATTERNS:
        for match in pattern.finditer(text):
            found.append((_key_label(*match.groups()), match.span()))
            start, end = match.span()
            text = text[:start] + " " * (end - start) + text[end:]
    return found


def stated_key(text: str) -> tuple[int, str] | None:
    """The one key `text` states, or None where it states none or several different ones."""
    keys = {key for key, _ in find_keys(text)}
    return keys.pop() if len(keys) == 1 else None


__all__ = ["find_keys", "stated_key"]
