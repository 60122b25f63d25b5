"""Pitch-class energy (chroma) from the STFT: used by key estimation (evaluation), key steering (each code's chroma)
and the codec's 'did the notes survive' similarity."""

from __future__ import annotations

import numpy as np

from ..modeling.keys import pitch_class_weights
from .spectrogram import stft_magnitude


def chroma(audio: np.ndarray, sample_rate: int, n_fft: int = 4096, hop: int = 2048, fmin: float = 65.0,
           fmax: float = 1000.0) -> np.ndarray:
    """Pitch-class power per frame [frames, 12] (index 0 = C) from the STFT, through `pitch_class_weights`. (Default
    settings chosen on validation-split corpus clips, see docs/evaluation.md.)"""
    power = stft_magnitude(audio, n_fft, hop) ** 2
    return power @ pitch_class_weights(np.fft.rfftfreq(n_fft, 1.0 / sample_rate), fmin, fmax)


__all__ = ["chroma", "pitch_class_weights"]
