"""Musical key: names, chroma-based estimation with harmonic-aware Krumhansl-Kessler templates, and a MIREX-like
score.

Score (our choice, close to but simpler than MIREX's): 1 for the exact key; 0.5 for the relative major/minor (C major
vs A minor) or a key a fifth away in the same mode (C major vs G major or F major: dominant or subdominant); else 0.
Chance of an exact match is 1/24.
"""

from __future__ import annotations

import re

import numpy as np

from simba_music.audio import chroma

from .features import ANALYSIS_RATE

PITCH_CLASSES = ("C", "C#", "D", "E flat", "E", "F", "F#", "G", "A flat", "A", "B flat", "B")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
KEY_CHANCE = 1 / 24
# Harmonic h of a note sounds round(12 log2 h) semitones above it with relative amplitude HARMONIC_DECAY^(h - 1): the
# key templates are the profiles spread over these overtones, so that a note's third harmonic (its fifth) is expected
# rather than read as evidence for the dominant key (chosen on validation clips: exact 0.34 -> 0.55).
HARMONICS, HARMONIC_DECAY = 10, 0.9

_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_PATTERN = re.compile(r"^\s*([A-Ga-g])\s*(#|sharp|b|flat|-)?\s+(major|minor)\s*$", re.IGNORECASE)


def parse_key(text: str) -> tuple[int, str]:
    """"F major", "B flat minor", "F# minor", "Eb major", "B- major" -> (tonic pitch class 0..11, "major"/"minor")."""
    match = _KEY_PATTERN.match(str(text))
    if match is None:
        raise ValueError(f"key: expected '<tonic> major' or '<tonic> minor' (e.g. 'F# minor', 'B flat major'), "
                         f"got {text!r}")
    letter, accidental, mode = match.groups()
    tonic = _NATURALS[letter.upper()]
    if accidental:
        tonic += 1 if accidental.lower() in ("#", "sharp") else -1
    return tonic % 12, mode.lower()


def key_name(tonic: int, mode: str) -> str:
    """The corpus spelling: sharps for C#/F#, "flat" for E flat, A flat and B flat."""
    return f"{PITCH_CLASSES[tonic % 12]} {mode}"


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


def key_scores(mean_chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation of a 12-bin chroma (index 0 = C) with each key's template: [24], majors 0..11 then
    minors 0..11 by tonic."""
    mean_chroma = np.asarray(mean_chroma, dtype=np.float64)
    if mean_chroma.shape != (12,):
        raise ValueError(f"mean_chroma: expected 12 values, got shape {mean_chroma.shape}")
    templates = key_templates()
    centred = templates - templates.mean(axis=1, keepdims=True)
    observed = mean_chroma - mean_chroma.mean()
    denominator = np.linalg.norm(centred, axis=1) * max(float(np.linalg.norm(observed)), 1e-12)
    return centred @ observed / denominator


def estimate_key(audio: np.ndarray, rate: int = ANALYSIS_RATE) -> tuple[str, float]:
    """Mono audio -> (key name, correlation of the best key). Frames are normalised before averaging, so that loud
    passages do not dominate."""
    frames = chroma(audio, rate)
    frames = frames / np.maximum(frames.sum(axis=1, keepdims=True), 1e-12)
    scores = key_scores(frames.mean(axis=0))
    best = int(np.argmax(scores))
    return key_name(best % 12, "major" if best < 12 else "minor"), float(scores[best])


def key_score(estimated: str, expected: str) -> float:
    """1 exact; 0.5 relative major/minor or a fifth away in the same mode; else 0 (see the module docstring)."""
    (tonic, mode), (true_tonic, true_mode) = parse_key(estimated), parse_key(expected)
    if (tonic, mode) == (true_tonic, true_mode):
        return 1.0
    if mode == true_mode and (tonic - true_tonic) % 12 in (5, 7):
        return 0.5
    relative = 9 if true_mode == "major" else 3  # the relative minor is 9 semitones above its major's tonic
    if mode != true_mode and (tonic - true_tonic) % 12 == relative:
        return 0.5
    return 0.0


__all__ = ["KEY_CHANCE", "estimate_key", "key_name", "key_score", "key_scores", "key_templates", "parse_key"]
