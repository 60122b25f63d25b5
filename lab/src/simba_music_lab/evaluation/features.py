"""The evaluation's analysis settings over the package's audio helpers (`simba_music.audio`): every clip is brought
to mono at the analysis rate (16 kHz, the corpus rate) so that features of real and generated clips are comparable;
on top, a clip's log-mel statistics and an onset-strength envelope.
"""

from __future__ import annotations

import numpy as np

from simba_music import audio as dsp

ANALYSIS_RATE = 16000
N_FFT = 1024
HOP = 256
N_MELS = 64
MEL_FMIN = 30.0  # Hz; below the lowest corpus note, and keeps the lowest filters off the DC bin


def conform(audio, rate: int, target_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """`simba_music.audio.conform` to the analysis rate by default."""
    return dsp.conform(audio, rate, target_rate)


def load_audio(path: str, target_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """A sound file as mono float64 at the analysis rate by default."""
    return dsp.load_audio(path, target_rate)


def log_mel(audio: np.ndarray, rate: int = ANALYSIS_RATE, n_mels: int = N_MELS, n_fft: int = N_FFT,
            hop: int = HOP) -> np.ndarray:
    """Natural-log mel power spectrogram [frames, n_mels] (floored at 1e-10) with the analysis settings."""
    return dsp.log_mel(audio, rate, n_mels, n_fft, hop, fmin=MEL_FMIN)


def mel_statistics(audio: np.ndarray, rate: int = ANALYSIS_RATE, n_mels: int = N_MELS) -> np.ndarray:
    """A clip's log-mel mean and standard deviation over time, concatenated: [2 * n_mels] (128 by default)."""
    spectrogram = log_mel(audio, rate, n_mels)
    return np.concatenate([spectrogram.mean(axis=0), spectrogram.std(axis=0)])


def onset_strength(audio: np.ndarray, rate: int = ANALYSIS_RATE, hop: int = 160, n_fft: int = 1024,
                   n_mels: int = 40) -> tuple[np.ndarray, float]:
    """Spectral flux on a log-mel spectrogram: the half-wave rectified frame-to-frame increase, averaged over bands,
    minus its one-second moving average (rectified again). Returns (envelope [frames], frames per second)."""
    from scipy.ndimage import uniform_filter1d

    spectrogram = dsp.log_mel(audio, rate, n_mels, n_fft, hop, fmin=MEL_FMIN, floor=1e-6)
    flux = np.maximum(0.0, np.diff(spectrogram, axis=0)).mean(axis=1)
    frame_rate = rate / hop
    local_mean = uniform_filter1d(flux, size=max(1, int(frame_rate)), mode="nearest")
    return np.maximum(0.0, flux - local_mean), frame_rate


__all__ = ["ANALYSIS_RATE", "HOP", "N_FFT", "N_MELS", "conform", "load_audio", "log_mel", "mel_statistics",
           "onset_strength"]
