"""Reference degradations the codec is compared with: 8-bit mu-law at the same rate, and a telephone band."""

from __future__ import annotations

import numpy as np


def mu_law_8bit(audio: np.ndarray, mu: int = 255) -> np.ndarray:
    """Encode to 256 mu-law levels and back (64 kbit/s at 8 kHz, 128 kbit/s at 16 kHz)."""
    clipped = np.clip(audio, -1.0, 1.0)
    companded = np.sign(clipped) * np.log1p(mu * np.abs(clipped)) / np.log1p(mu)
    levels = np.round((companded + 1) / 2 * mu)
    restored = 2 * levels / mu - 1
    return (np.sign(restored) * np.expm1(np.abs(restored) * np.log1p(mu)) / mu).astype(np.float32)


def telephone_band(audio: np.ndarray, sample_rate: int, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """A G.711-like telephone channel (64 kbit/s): 300-3400 Hz band, 8 kHz, 8-bit mu-law; back at the original rate."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    if sample_rate <= 2 * high_hz:
        raise ValueError(f"sample_rate must exceed twice high_hz={high_hz}, got {sample_rate}")
    sos = butter(6, [low_hz, high_hz], btype="bandpass", fs=sample_rate, output="sos")
    band = sosfiltfilt(sos, audio)
    narrow = mu_law_8bit(resample_poly(band, 8000, sample_rate))
    restored = resample_poly(narrow, sample_rate, 8000)[: audio.shape[0]]
    if restored.shape[0] < audio.shape[0]:
        restored = np.pad(restored, (0, audio.shape[0] - restored.shape[0]))
    return restored.astype(np.float32)


def chroma(audio: np.ndarray, sample_rate: int, n_fft: int = 4096, hop: int = 1024) -> np.ndarray:
    """12 x frames pitch-class energy from an STFT (55 Hz - 4 kHz), each frame normalised to unit length."""
    from scipy.signal import stft

    frequencies, _, spectrum = stft(audio, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop)
    power = np.abs(spectrum) ** 2
    keep = (frequencies >= 55.0) & (frequencies <= 4000.0)
    pitch_class = np.round(12 * np.log2(frequencies[keep] / 440.0)).astype(int) % 12
    result = np.zeros((12, power.shape[1]))
    np.add.at(result, pitch_class, power[keep])
    return result / (np.linalg.norm(result, axis=0, keepdims=True) + 1e-12)


def chroma_similarity(prediction: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """Mean cosine similarity of chroma over the reference's non-silent frames: a proxy for 'the notes survived'."""
    from scipy.signal import stft

    reference_chroma = chroma(reference, sample_rate)
    prediction_chroma = chroma(prediction, sample_rate)
    _, _, spectrum = stft(reference, fs=sample_rate, nperseg=4096, noverlap=3072)
    energy = (np.abs(spectrum) ** 2).sum(axis=0)
    active = energy > 1e-3 * energy.max()
    return float((reference_chroma * prediction_chroma).sum(axis=0)[active].mean())
