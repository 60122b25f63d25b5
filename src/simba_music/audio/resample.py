"""Bringing audio to one rate and one channel: the package's single resampler and the mono/rate conforming that
analysis code (evaluation, codec metrics, transcription) relies on."""

from __future__ import annotations

import numpy as np

from ..modeling.audio_prompt import resample


def conform(audio, rate: int, target_rate: int) -> np.ndarray:
    """Float audio [samples], [channels, samples] or [samples, channels] (the shorter axis is taken as channels) ->
    mono float64 at `target_rate` (polyphase resampling)."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=int(np.argmin(audio.shape)))
    if audio.ndim != 1:
        raise ValueError(f"audio: expected [samples] or a 2-D [channels, samples] array, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("audio: contains NaN or infinite values")
    if rate != target_rate:
        audio = resample(audio, int(rate), int(target_rate))
    return audio


__all__ = ["conform", "resample"]
