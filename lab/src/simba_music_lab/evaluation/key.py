"""Musical key estimation from audio (chroma against the library's harmonic-aware Krumhansl-Kessler templates,
`simba_music.modeling.keys`) and a MIREX-like score.

Score (our choice, close to but simpler than MIREX's): 1 for the exact key; 0.5 for the relative major/minor (C major
vs A minor) or a key a fifth away in the same mode (C major vs G major or F major: dominant or subdominant); else 0.
Chance of an exact match is 1/24.
"""

from __future__ import annotations

import numpy as np

from simba_music.audio import chroma
from simba_music.modeling.keys import (
    MAJOR_PROFILE,
    MINOR_PROFILE,
    key_index,
    key_name,
    key_scores,
    key_templates,
    parse_key,
)

from .features import ANALYSIS_RATE

KEY_CHANCE = 1 / 24


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


__all__ = ["KEY_CHANCE", "MAJOR_PROFILE", "MINOR_PROFILE", "estimate_key", "key_index", "key_name", "key_score",
           "key_scores", "key_templates", "parse_key"]
