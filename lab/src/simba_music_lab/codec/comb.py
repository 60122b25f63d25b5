"""Comb strength: how much a fixed comb at multiples of the codec's frame rate (50 Hz here) colours a clip.

Every codec trained here lays such a comb over the whole clip, an audible buzz at the frame rate: each decoded frame
repeats a slightly wrong waveform period-locked to the hop. Music itself has no reason to favour multiples of 50 Hz.

Definition (per clip, mono):
1. the long-term average spectrum: the mean STFT power over time (Hann window, n_fft = 4096 at 16 kHz, i.e. about
   3.9 Hz bins, hop n_fft / 4), in dB;
2. detrended by subtracting its moving average over exactly one comb period (``frame_rate`` Hz wide), which removes
   the spectral envelope and cancels any ripple with that period from the trend;
3. the Pearson correlation, over the bins from ``frame_rate`` to ``max_hz`` (4 kHz: where the notes' partials are),
   between that residual and cos(2 pi f / frame_rate), a comb with its teeth on the multiples of the frame rate.

It lies in [-1, 1]: near 1, the spectrum rises at every multiple of the frame rate and dips between them; near 0 or
below for real music (its partials sit on tuned pitches, not on a 50 Hz grid). Compare a codec's output with its
original: the original's value is the floor.

A second measure, `comb_ratio`: from the same long-term average spectrum at 1 Hz bins, the geometric mean over
k = 2..80 of the power within +-2 Hz of k x frame rate over the power within +-2 Hz of (k + 0.5) x frame rate.
Music tuned to A440 gives about 1; a decoder that repeats its frames' phase gives tens to hundreds. Unlike the
correlation it says how strong the comb is, so a codec's figure can be set beside its originals'.
"""

from __future__ import annotations

import numpy as np


def comb_strength(audio: np.ndarray, sample_rate: int, frame_rate: float, max_hz: float = 4000.0,
                  n_fft: int | None = None) -> float:
    """Comb strength of mono ``audio`` at multiples of ``frame_rate`` Hz (see the module docstring)."""
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if frame_rate <= 0 or max_hz <= 2 * frame_rate or max_hz > sample_rate / 2:
        raise ValueError(f"frame_rate and max_hz: need 0 < 2 * frame_rate < max_hz <= sample_rate / 2, got "
                         f"frame_rate={frame_rate}, max_hz={max_hz}, sample_rate={sample_rate}")
    n_fft = n_fft or int(2 ** round(np.log2(sample_rate / 4)))  # ~4 Hz bins: about 12 per 50 Hz period
    spectrum_db = 10 * np.log10(long_term_power(audio, n_fft) + 1e-12)
    bin_hz = sample_rate / n_fft
    period_bins = frame_rate / bin_hz
    width = max(3, int(round(period_bins)) | 1)  # odd, about one comb period
    trend = np.convolve(np.pad(spectrum_db, width // 2, mode="edge"), np.ones(width) / width, mode="valid")
    residual = spectrum_db - trend
    frequencies = np.arange(spectrum_db.shape[0]) * bin_hz
    band = (frequencies >= frame_rate) & (frequencies <= max_hz)
    teeth = np.cos(2 * np.pi * frequencies[band] / frame_rate)
    values = residual[band]
    if values.std() == 0:
        return 0.0
    return float(np.corrcoef(values, teeth)[0, 1])


def comb_ratio(audio: np.ndarray, sample_rate: int, frame_rate: float, harmonics: int = 80,
               half_width_hz: float = 2.0) -> float:
    """Power at multiples of `frame_rate` over power half-way between them (see the module docstring)."""
    if not 0 < (harmonics + 1) * frame_rate < sample_rate / 2:
        raise ValueError(f"frame_rate: the {harmonics + 1}th multiple of {frame_rate} Hz must lie below Nyquist")
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    n_fft = int(sample_rate)  # 1 Hz bins
    if audio.shape[0] < n_fft:
        raise ValueError(f"audio: need at least one second ({n_fft} samples), got {audio.shape[0]}")
    power = long_term_power(audio, n_fft) + 1e-20
    frequencies = np.arange(power.shape[0]) * sample_rate / n_fft

    def band(center: float) -> float:
        return float(power[np.abs(frequencies - center) <= half_width_hz].sum())

    logs = [np.log(band(k * frame_rate) / band((k + 0.5) * frame_rate)) for k in range(2, harmonics + 1)]
    return float(np.exp(np.mean(logs)))


def long_term_power(audio: np.ndarray, n_fft: int) -> np.ndarray:
    """The mean STFT power spectrum of mono float64 `audio` (Hann window, hop n_fft / 4): [n_fft // 2 + 1]."""
    if audio.shape[0] < n_fft:
        raise ValueError(f"audio: need at least n_fft={n_fft} samples, got {audio.shape[0]}")
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::n_fft // 4] * np.hanning(n_fft)
    return (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
