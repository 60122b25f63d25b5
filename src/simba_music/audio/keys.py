"""Musical keys: names, and the chroma each key leads one to expect (harmonic-aware Krumhansl-Kessler templates).

Key estimation (the evaluation's) and key steering (sampling toward codes that fit a key) both compare chroma with
these templates. Keys are indexed 0..23: majors by tonic pitch class (C = 0), then minors.
"""

from __future__ import annotations

import numpy as np

from ..modeling.values import parse_key

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


__all__ = ["HARMONICS", "HARMONIC_DECAY", "MAJOR_PROFILE", "MINOR_PROFILE", "PITCH_CLASSES", "key_index", "key_name",
           "key_scores", "key_templates", "parse_key"]
