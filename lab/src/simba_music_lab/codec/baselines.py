"""Reference degradations the codec is compared with: 8-bit mu-law at the same rate, and a telephone band."""

from __future__ import annotations

import numpy as np

from simba_music.audio import chroma, resample, stft_magnitude

CHROMA_FFT = 4096
CHROMA_HOP = 1024


def mu_law_8bit(audio: np.ndarray, mu: int = 255) -> np.ndarray:
    """Encode to 256 mu-law levels and back (64 kbit/s at 8 kHz, 128 kbit/s at 16 kHz)."""
    clipped = np.clip(audio, -1.0, 1.0)
    companded = np.sign(clipped) * np.log1p(mu * np.abs(clipped)) / np.log1p(mu)
    levels = np.round((companded + 1) / 2 * mu)
    restored = 2 * levels / mu - 1
    return (np.sign(restored) * np.expm1(np.abs(restored) * np.log1p(mu)) / mu).astype(np.float32)


def telephone_band(audio: np.ndarray, sample_rate: int, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """A G.711-like telephone channel (64 kbit/s): 300-3400 Hz band, 8 kHz, 8-bit mu-law; back at the original rate."""
    from scipy.signal import butter, sosfiltfilt

    if sample_rate <= 2 * high_hz:
        raise ValueError(f"sample_rate must exceed twice high_hz={high_hz}, got {sample_rate}")
    sos = butter(6, [low_hz, high_hz], btype="bandpass", fs=sample_rate, output="sos")
    band = sosfiltfilt(sos, audio)
    narrow = mu_law_8bit(resample(band, sample_rate, 8000))
    restored = resample(narrow, 8000, sample_rate)[: audio.shape[0]]
    if restored.shape[0] < audio.shape[0]:
        restored = np.pad(restored, (0, audio.shape[0] - restored.shape[0]))
    return restored.astype(np.float32)


def chroma_similarity(prediction: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """Mean cosine similarity of chroma (55 Hz - 4 kHz) over the reference's non-silent frames: a proxy for 'the
    notes survived'."""
    reference_chroma = _unit_chroma(reference, sample_rate)
    prediction_chroma = _unit_chroma(prediction, sample_rate)
    energy = (stft_magnitude(reference, CHROMA_FFT, CHROMA_HOP) ** 2).sum(axis=1)
    active = energy > 1e-3 * energy.max()
    return float((reference_chroma * prediction_chroma).sum(axis=1)[active].mean())


def _unit_chroma(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    frames = chroma(audio, sample_rate, n_fft=CHROMA_FFT, hop=CHROMA_HOP, fmin=55.0, fmax=4000.0)
    return frames / (np.linalg.norm(frames, axis=1, keepdims=True) + 1e-12)
