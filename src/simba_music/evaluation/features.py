"""Audio features computed with numpy/scipy only: STFT, mel spectrogram, chroma and an onset-strength envelope.

Everything works on mono float audio at a given rate; `load_audio` / `conform` bring files and generated audio to the
analysis rate (16 kHz, the corpus rate) so that features of real and generated clips are comparable.
"""

from __future__ import annotations

import math

import numpy as np

ANALYSIS_RATE = 16000
N_FFT = 1024
HOP = 256
N_MELS = 64
EPSILON = 1e-10


def conform(audio, rate: int, target_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Float audio [samples], [channels, samples] or [samples, channels] (the shorter axis is taken as channels) ->
    mono float64 at `target_rate` (polyphase resampling)."""
    from scipy.signal import resample_poly

    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=int(np.argmin(audio.shape)))
    if audio.ndim != 1:
        raise ValueError(f"audio: expected [samples] or a 2-D [channels, samples] array, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("audio: contains NaN or infinite values")
    if rate != target_rate:
        divisor = math.gcd(int(rate), int(target_rate))
        audio = resample_poly(audio, target_rate // divisor, rate // divisor)
    return audio


def load_audio(path: str, target_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """A sound file as mono float64 at `target_rate`."""
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    return conform(audio.mean(axis=1), rate, target_rate)


def stft_magnitude(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT| of mono audio with a periodic Hann window, centred frames (reflect-padded): [frames, n_fft // 2 + 1]."""
    audio = np.asarray(audio, dtype=np.float64)
    pad = n_fft // 2
    if audio.size <= pad:
        audio = np.pad(audio, (0, pad + 1 - audio.size))
    padded = np.pad(audio, pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(frames * window, axis=-1))


def _hz_to_mel(frequency):
    return 2595.0 * np.log10(1.0 + np.asarray(frequency, dtype=np.float64) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 30.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular filters on the HTK mel scale, each with unit area: [n_mels, n_fft // 2 + 1]."""
    fmax = rate / 2 if fmax is None else fmax
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    return filters / np.maximum(filters.sum(axis=1, keepdims=True), EPSILON)


def log_mel(audio: np.ndarray, rate: int = ANALYSIS_RATE, n_mels: int = N_MELS, n_fft: int = N_FFT,
            hop: int = HOP) -> np.ndarray:
    """Natural-log mel power spectrogram [frames, n_mels] (floored at 1e-10)."""
    power = stft_magnitude(audio, n_fft, hop) ** 2
    return np.log(np.maximum(power @ mel_filterbank(rate, n_fft, n_mels).T, EPSILON))


def mel_statistics(audio: np.ndarray, rate: int = ANALYSIS_RATE, n_mels: int = N_MELS) -> np.ndarray:
    """A clip's log-mel mean and standard deviation over time, concatenated: [2 * n_mels] (128 by default)."""
    spectrogram = log_mel(audio, rate, n_mels)
    return np.concatenate([spectrogram.mean(axis=0), spectrogram.std(axis=0)])


def chroma(audio: np.ndarray, rate: int = ANALYSIS_RATE, n_fft: int = 4096, hop: int = 2048, fmin: float = 65.0,
           fmax: float = 1000.0) -> np.ndarray:
    """Pitch-class power per frame [frames, 12] (index 0 = C) from the STFT: each bin between `fmin` and `fmax` goes
    to the pitch class of its nearest equal-tempered semitone (A4 = 440 Hz), weighted by how close it is to that
    semitone's centre. (Settings chosen on validation-split corpus clips, see docs/evaluation.md.)"""
    power = stft_magnitude(audio, n_fft, hop) ** 2
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / rate)
    keep = (frequencies >= fmin) & (frequencies <= fmax)
    midi = 69.0 + 12.0 * np.log2(frequencies[keep] / 440.0)
    nearest = np.round(midi)
    closeness = np.clip(1.0 - 2.0 * np.abs(midi - nearest), 0.0, 1.0)  # 1 at the centre, 0 half a semitone away
    mapping = np.zeros((int(keep.sum()), 12))
    mapping[np.arange(int(keep.sum())), nearest.astype(int) % 12] = closeness
    return power[:, keep] @ mapping


def onset_strength(audio: np.ndarray, rate: int = ANALYSIS_RATE, hop: int = 160, n_fft: int = 1024,
                   n_mels: int = 40) -> tuple[np.ndarray, float]:
    """Spectral flux on a log-mel spectrogram: the half-wave rectified frame-to-frame increase, averaged over bands,
    minus its one-second moving average (rectified again). Returns (envelope [frames], frames per second)."""
    from scipy.ndimage import uniform_filter1d

    power = stft_magnitude(audio, n_fft, hop) ** 2
    spectrogram = np.log(np.maximum(power @ mel_filterbank(rate, n_fft, n_mels).T, 1e-6))
    flux = np.maximum(0.0, np.diff(spectrogram, axis=0)).mean(axis=1)
    frame_rate = rate / hop
    local_mean = uniform_filter1d(flux, size=max(1, int(frame_rate)), mode="nearest")
    return np.maximum(0.0, flux - local_mean), frame_rate


__all__ = ["ANALYSIS_RATE", "chroma", "conform", "load_audio", "log_mel", "mel_filterbank", "mel_statistics",
           "onset_strength", "stft_magnitude"]
