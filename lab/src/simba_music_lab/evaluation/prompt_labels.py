"""What a prompt's text states: the instruments, styles, keys, modes, tempi and moods named in it, read with the
corpus vocabulary (`simba_music.captions.vocabulary`).

Used to check that paraphrased training captions never contradict their labels, and that the hand-written labels of
the free-form evaluation prompts are the ones their text states. Phrases are matched longest first and masked once
matched, so "pan flute" is not also read as "flute", nor "piano accordion" as "piano". Key spellings read: "D minor",
"Dm", "D min", "d-minor", "the key of D minor", "C# minor", "C♯m", "c-sharp-minor", "B flat major", "Bb maj",
"B♭maj", "e♭-major"; "a minor key" / "a major key" state a mode only.
"""

from __future__ import annotations

import re

from simba_music.captions.vocabulary import (
    INSTRUMENT_PLAYERS,
    INSTRUMENT_SYNONYMS,
    MOODS,
    STYLE_SYNONYMS,
    TEMPO_ADVERBS,
    TEMPO_WORDS,
    tempo_band,
)
from simba_music.modeling.keys import find_keys

_MODE_ONLY = re.compile(r"(?<![a-z])(major|minor)[ -]key(?![a-z])", re.IGNORECASE)
_BPM = re.compile(r"(?<![\d.])(\d{2,3})\s?(?:bpm|beats per minute)(?![a-z])", re.IGNORECASE)


def _phrases() -> list[tuple[str, str, str]]:
    """(lower-case phrase, kind, label), longest first."""
    table = [(word.lower(), "instrument", label) for label, words in INSTRUMENT_SYNONYMS.items() for word in words]
    table += [(word, "instrument", label) for label, words in INSTRUMENT_PLAYERS.items() for word in words]
    table += [(word.lower(), "style", label) for label, words in STYLE_SYNONYMS.items() for word in words]
    table += [(word, "tempo_word", word) for word in (*TEMPO_WORDS, *TEMPO_ADVERBS)]
    table += [(word, "mood", word) for word in MOODS]
    return sorted(table, key=lambda entry: -len(entry[0]))


_PHRASES = _phrases()
_PHRASE_PATTERNS = [(re.compile(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])"), kind, label)
                    for phrase, kind, label in _PHRASES]


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def read_labels(text: str) -> dict:
    """The labels `text` states, as sets (empty when it states none): `instruments` and `styles` (corpus labels),
    `keys` ((tonic pitch class, mode) pairs), `modes` (from keys, "minor key" and mood words), `tempo_bpm`,
    `tempo_bands` (from BPM numbers and tempo words), `moods`, and `mood_bands` (the bands every mood word allows)."""
    found = {name: set() for name in ("instruments", "styles", "keys", "modes", "tempo_bpm", "tempo_bands", "moods")}
    found["mood_bands"] = {"slow", "moderate", "fast"}
    for key, span in find_keys(text):
        found["keys"].add(key)
        text = _mask(text, *span)
    found["modes"] |= {mode for _, mode in found["keys"]}
    lower = text.lower()
    for match in _MODE_ONLY.finditer(lower):
        found["modes"].add(match.group(1))
        lower = _mask(lower, *match.span())
    for match in _BPM.finditer(lower):
        bpm = int(match.group(1))
        found["tempo_bpm"].add(bpm)
        found["tempo_bands"].add(tempo_band(bpm))
        lower = _mask(lower, *match.span())
    for pattern, kind, label in _PHRASE_PATTERNS:
        for match in pattern.finditer(lower):
            lower = _mask(lower, *match.span())
            if kind in ("instrument", "style"):
                found[kind + "s"].add(label)
            elif kind == "tempo_word":
                low, _ = {**TEMPO_WORDS, **TEMPO_ADVERBS}[label]
                found["tempo_bands"].add(tempo_band(max(low, 1)))
            else:
                mode, bands = MOODS[label]
                found["moods"].add(label)
                found["modes"] |= {mode} if mode else set()
                found["mood_bands"] &= set(bands)
    return found


__all__ = ["read_labels"]
