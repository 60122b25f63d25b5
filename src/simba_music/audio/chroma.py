"""Pitch-class energy (chroma) from the STFT: used by key estimation (evaluation) and the codec's 'did the notes
survive' similarity."""

from __future__ import annotations

import numpy as np

from .spectrogram import stft_magnitude


def chroma(audio: np.ndarray, sample_rate: int, n_fft: int = 4096, hop: int = 2048, fmin: float = 65.0,
           fmax: float = 1000.0) -> np.ndarray:
    """Pitch-class power per frame [frames, 12] (index 0 = C) from the STFT: each bin between `fmin` and `fmax` goes
    to the pitch class of its nearest equal-tempered semitone (A4 = 440 Hz), weighted by how close it is to that
    semitone's centre. (Default settings chosen on validation-split corpus clips, see docs/evaluation.md.)"""
    power = stft_magnitude(audio, n_fft, hop) ** 2
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    keep = (frequencies >= fmin) & (frequencies <= fmax)
    midi = 69.0 + 12.0 * np.log2(frequencies[keep] / 440.0)
    nearest = np.round(midi)
    closeness = np.clip(1.0 - 2.0 * np.abs(midi - nearest), 0.0, 1.0)  # 1 at the centre, 0 half a semitone away
    mapping = np.zeros((int(keep.sum()), 12))
    mapping[np.arange(int(keep.sum())), nearest.astype(int) % 12] = closeness
    return power[:, keep] @ mapping


__all__ = ["chroma"]
