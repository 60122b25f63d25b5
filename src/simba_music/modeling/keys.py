"""Musical keys: names, the chroma each key leads one to expect (harmonic-aware Krumhansl-Kessler templates), the
pitch classes of spectrum bins, and the keys a caption states ("in F# minor", "Dm", "B flat major", "e♭-major").

Key steering (each code's chroma against the templates) and key estimation in the evaluation both use these. Keys are
indexed 0..23: majors by tonic pitch class (C = 0), then minors. In `modeling/` so that a model folder saved with its
code (`trust_remote_code`) carries it.
"""

from __future__ import annotations

import re

import numpy as np

from .values import parse_key

PITCH_CLASSES = ("C", "C#", "D", "E flat", "E", "F", "F#", "G", "A flat", "A", "B flat", "B")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Harmonic h of a note sounds round(12 log2 h) semitones above it with relative amplitude HARMONIC_DECAY^(h - 1): the
# key templates are the profiles spread over these overtones, so that a note's third harmonic (its fifth) is expected
# rather than read as evidence for the dominant key (chosen on validation clips: exact 0.34 -> 0.55).
HARMONICS, HARMONIC_DECAY = 10, 0.9


def key_name(tonic: int, mode: str) -> str:
    """The corpus spelling: sharps for C#/F#, "flat" for E flat, A flat and B flat."""
    return f"{PITCH_CLASSES[tonic % 12]} {mode}"


def key_index(tonic: int, mode: str) -> int:
    """(tonic, mode) -> the key's row in `key_templates()`: majors 0..11, minors 12..23."""
    return tonic % 12 + (12 if mode == "minor" else 0)


def _harmonic_kernel() -> np.ndarray:
    kernel = np.zeros(12)
    for harmonic in range(1, HARMONICS + 1):
        kernel[round(12 * np.log2(harmonic)) % 12] += HARMONIC_DECAY ** (harmonic - 1)
    return kernel


def key_templates() -> np.ndarray:
    """Expected chroma of each key [24, 12]: majors by tonic 0..11, then minors; the Krumhansl-Kessler profile
    circularly convolved with the harmonic kernel, then rotated to the tonic."""
    kernel = _harmonic_kernel()
    spread = [np.array([sum(profile[j] * kernel[(i - j) % 12] for j in range(12)) for i in range(12)])
              for profile in (MAJOR_PROFILE, MINOR_PROFILE)]
    return np.stack([np.roll(template, tonic) for template in spread for tonic in range(12)])


def key_scores(chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation of 12-bin chroma (index 0 = C; [..., 12]) with each key's template -> [..., 24], majors
    0..11 then minors 0..11 by tonic."""
    chroma = np.asarray(chroma, dtype=np.float64)
    if chroma.ndim == 0 or chroma.shape[-1] != 12:
        raise ValueError(f"chroma: expected 12 values per row, got shape {chroma.shape}")
    templates = key_templates()
    centred = templates - templates.mean(axis=1, keepdims=True)
    observed = chroma - chroma.mean(axis=-1, keepdims=True)
    norms = np.maximum(np.linalg.norm(observed, axis=-1, keepdims=True), 1e-12)
    return observed @ centred.T / (np.linalg.norm(centred, axis=1) * norms)


def pitch_class_weights(frequencies: np.ndarray, fmin: float = 65.0, fmax: float = 1000.0) -> np.ndarray:
    """[bins, 12] weights taking power per frequency bin to power per pitch class: each bin between `fmin` and `fmax`
    goes to the pitch class of its nearest equal-tempered semitone (A4 = 440 Hz), weighted by how close it is to that
    semitone's centre; other bins weigh 0."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    keep = (frequencies >= fmin) & (frequencies <= fmax)
    midi = 69.0 + 12.0 * np.log2(frequencies[keep] / 440.0)
    nearest = np.round(midi)
    closeness = np.clip(1.0 - 2.0 * np.abs(midi - nearest), 0.0, 1.0)  # 1 at the centre, 0 half a semitone away
    weights = np.zeros((len(frequencies), 12))
    weights[np.flatnonzero(keep), nearest.astype(int) % 12] = closeness
    return weights


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


def _article(text: str, start: int, end: int) -> bool:
    """Whether an "A" with no accidental at `start` reads as the article: not after "in"/"of", and either opening a
    sentence or followed by "key" ("a minor key")."""
    before = text[:start].rstrip()
    if before.split()[-1:] and before.split()[-1].lower() in ("in", "of"):
        return False
    return not before or before[-1] in ".!?;:" or bool(re.match(r"[ -]key\b", text[end:]))


def find_keys(text: str) -> list[tuple[tuple[int, str], tuple[int, int]]]:
    """Each key `text` states: ((tonic pitch class, mode), (start, end) of its words), patterns tried in order, a
    matched span masked before the next pattern so that it is read once."""
    found = []
    for pattern in _KEY_PATTERNS:
        for match in pattern.finditer(text):
            if match.group(1) == "A" and not match.group(2) and _article(text, match.start(), match.end()):
                continue  # "A minor-key ballad", "A major film score", "Am I ...": an article, not the key of A
            found.append((_key_label(*match.groups()), match.span()))
            start, end = match.span()
            text = text[:start] + " " * (end - start) + text[end:]
    return found


def stated_key(text: str) -> tuple[int, str] | None:
    """The one key `text` states, or None where it states none or several different ones."""
    keys = {key for key, _ in find_keys(text)}
    return keys.pop() if len(keys) == 1 else None


__all__ = ["HARMONICS", "HARMONIC_DECAY", "MAJOR_PROFILE", "MINOR_PROFILE", "PITCH_CLASSES", "find_keys", "key_index",
           "key_name", "key_scores", "key_templates", "parse_key", "pitch_class_weights", "stated_key"]
