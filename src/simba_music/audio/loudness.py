"""Level: RMS in dB, loudness normalisation and the silence test used when cutting corpus clips."""

from __future__ import annotations

import numpy as np


def rms(audio: np.ndarray) -> float:
    """Root mean square, accumulated in float64."""
    return float(np.sqrt(np.mean(np.square(audio), dtype=np.float64)))


def normalize_loudness(audio: np.ndarray, target_rms_db: float = -20.0, peak_limit: float = 0.95) -> np.ndarray:
    """Same loudness for every clip so the codec and captions never have to explain level differences."""
    level = rms(audio)
    if level < 1e-6:
        return audio
    scaled = audio * (10 ** (target_rms_db / 20) / level)
    peak = float(np.max(np.abs(scaled)))
    if peak > peak_limit:
        scaled = scaled * (peak_limit / peak)
    return scaled.astype(np.float32)


def is_silent(audio: np.ndarray, threshold_db: float = -50.0) -> bool:
    return rms(audio) <= 10 ** (threshold_db / 20)


__all__ = ["is_silent", "normalize_loudness", "rms"]
