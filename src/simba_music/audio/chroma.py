"""Pitch-class energy (chroma) from the STFT: used by key estimation (evaluation), key steering (each code's chroma)
and the codec's 'did the notes survive' similarity."""

from __future__ import annotations

import numpy as np

from .spectrogram import stft_magnitude


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


def chroma(audio: np.ndarray, sample_rate: int, n_fft: int = 4096, hop: int = 2048, fmin: float = 65.0,
           fmax: float = 1000.0) -> np.ndarray:
    """Pitch-class power per frame [frames, 12] (index 0 = C) from the STFT, through `pitch_class_weights`. (Default
    settings chosen on validation-split corpus clips, see docs/evaluation.md.)"""
    power = stft_magnitude(audio, n_fft, hop) ** 2
    return power @ pitch_class_weights(np.fft.rfftfreq(n_fft, 1.0 / sample_rate), fmin, fmax)


__all__ = ["chroma", "pitch_class_weights"]
