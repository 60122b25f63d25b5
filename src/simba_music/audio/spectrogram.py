"""STFT magnitude and the one mel filterbank (HTK mel scale, unit-area triangles), in numpy, with a torch mel
spectrogram on top for the codec's training losses."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EPSILON = 1e-10


def stft_magnitude(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| of mono audio with a periodic Hann window, centred frames (reflect-padded): [frames, n_fft // 2 + 1]."""
    audio = np.asarray(audio, dtype=np.float64)
    pad = n_fft // 2
    if audio.size <= pad:
        audio = np.pad(audio, (0, pad + 1 - audio.size))
    padded = np.pad(audio, pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(frames * window, axis=-1))


def hz_to_mel(frequency):
    return 2595.0 * np.log10(1.0 + np.asarray(frequency, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular filters on the HTK mel scale, each with unit area: float64 [n_mels, n_fft // 2 + 1]."""
    if n_mels < 1 or n_fft < 2 * n_mels:
        raise ValueError(f"n_mels must be in [1, n_fft/2], got n_mels={n_mels} for n_fft={n_fft}")
    fmax = sample_rate / 2 if fmax is None else fmax
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    # Low filters can fall between FFT bins at small n_fft; give them the nearest bin so none is all-zero.
    empty = filters.sum(axis=1) == 0
    if empty.any():
        nearest = np.argmin(np.abs(bins[None] - centre[empty]), axis=1)
        filters[np.flatnonzero(empty), nearest] = 1.0
    return filters / np.maximum(filters.sum(axis=1, keepdims=True), EPSILON)


def log_mel(audio: np.ndarray, sample_rate: int, n_mels: int, n_fft: int, hop: int, fmin: float = 0.0,
            floor: float = EPSILON) -> np.ndarray:
    """Natural-log mel power spectrogram [frames, n_mels] of mono audio (floored at `floor`)."""
    power = stft_magnitude(audio, n_fft, hop) ** 2
    return np.log(np.maximum(power @ mel_filterbank(sample_rate, n_fft, n_mels, fmin).T, floor))


@lru_cache(maxsize=32)
def _torch_filterbank(sample_rate: int, n_fft: int, n_mels: int):
    import torch

    return torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)).float()


def mel_spectrogram(audio, sample_rate: int, n_fft: int, n_mels: int):
    """Power mel spectrogram of (batch, samples) or (batch, 1, samples) torch audio: (batch, n_mels, frames),
    differentiable (the codec's losses)."""
    import torch

    if audio.dim() == 3:
        audio = audio.squeeze(1)
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop_length=n_fft // 4, window=window, center=True, return_complex=True)
    power = spec.real.square() + spec.imag.square()
    filters = _torch_filterbank(sample_rate, n_fft, n_mels).to(device=audio.device, dtype=audio.dtype)
    return torch.einsum("mf,bft->bmt", filters, power)


__all__ = ["hz_to_mel", "log_mel", "mel_filterbank", "mel_spectrogram", "mel_to_hz", "stft_magnitude"]
