"""Reconstruction losses for codec training and the distances the quality report uses; pure torch, no torchaudio."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F


def _hz_to_mel(hz: float | torch.Tensor):
    return 2595.0 * (torch.log10(1.0 + hz / 700.0) if isinstance(hz, torch.Tensor) else math.log10(1.0 + hz / 700.0))


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@lru_cache(maxsize=32)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Triangular HTK-mel filters, shape (n_mels, n_fft // 2 + 1), each normalised to unit area."""
    if n_mels < 1 or n_fft < 2 * n_mels:
        raise ValueError(f"n_mels must be in [1, n_fft/2], got n_mels={n_mels} for n_fft={n_fft}")
    bin_hz = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = _mel_to_hz(torch.linspace(0.0, _hz_to_mel(sample_rate / 2), n_mels + 2, dtype=torch.float64))
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz[None] - lower) / (center - lower)
    falling = (upper - bin_hz[None]) / (upper - center)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    # Low filters can fall between FFT bins at small n_fft; give them the nearest bin so none is all-zero.
    empty = filters.sum(dim=1) == 0
    if empty.any():
        nearest = torch.argmin((bin_hz[None] - center[empty]).abs(), dim=1)
        filters[empty.nonzero().squeeze(1), nearest] = 1.0
    filters = filters / filters.sum(dim=1, keepdim=True)
    return filters.float()


def mel_spectrogram(audio: torch.Tensor, sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Power mel spectrogram of (batch, samples) or (batch, 1, samples) audio: (batch, n_mels, frames)."""
    if audio.dim() == 3:
        audio = audio.squeeze(1)
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop_length=n_fft // 4, window=window, center=True, return_complex=True)
    power = spec.real.square() + spec.imag.square()
    filters = mel_filterbank(sample_rate, n_fft, n_mels).to(device=audio.device, dtype=audio.dtype)
    return torch.einsum("mf,bft->bmt", filters, power)


DEFAULT_SCALES = ((256, 32), (512, 64), (1024, 80), (2048, 80))


def multiscale_mel_loss(
    prediction: torch.Tensor, target: torch.Tensor, sample_rate: int, scales=DEFAULT_SCALES, floor: float = 1e-5
) -> torch.Tensor:
    """Mean over scales of L1 between log-mel spectrograms plus L1 between magnitude mels.

    The log term hears quiet detail (note onsets, release tails); the magnitude term weights loud partials, which
    keep the pitch content.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target shapes differ: {tuple(prediction.shape)} vs {tuple(target.shape)}")
    total = prediction.new_zeros(())
    for n_fft, n_mels in scales:
        mel_prediction = mel_spectrogram(prediction, sample_rate, n_fft, n_mels)
        mel_target = mel_spectrogram(target, sample_rate, n_fft, n_mels)
        log_term = (torch.log10(mel_prediction.clamp(min=floor)) - torch.log10(mel_target.clamp(min=floor))).abs()
        magnitude_term = (mel_prediction.clamp(min=0).sqrt() - mel_target.clamp(min=0).sqrt()).abs()
        total = total + log_term.mean() + magnitude_term.mean()
    return total / len(scales)


STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))


def multiresolution_stft_loss(
    prediction: torch.Tensor, target: torch.Tensor, resolutions=STFT_RESOLUTIONS, floor: float = 1e-5
) -> torch.Tensor:
    """Mean over (n_fft, hop) resolutions of spectral convergence plus L1 between log STFT magnitudes.

    Unlike the mel loss it sees single linear-frequency bins, so a fixed comb of frame-rate harmonics (the buzz
    every codec trained here adds, see :mod:`simba_music.codec.comb`) costs it directly; in the codec trial it halved
    the comb.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target shapes differ: {tuple(prediction.shape)} vs {tuple(target.shape)}")
    prediction, target = prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1, target.shape[-1])
    total = prediction.new_zeros(())
    for n_fft, hop in resolutions:
        window = torch.hann_window(n_fft, device=prediction.device, dtype=prediction.dtype)
        magnitudes = [
            torch.stft(x, n_fft, hop_length=hop, window=window, center=True, return_complex=True).abs().clamp(min=floor)
            for x in (prediction, target)
        ]
        convergence = torch.linalg.norm(magnitudes[1] - magnitudes[0]) / torch.linalg.norm(magnitudes[1])
        log_term = (magnitudes[0].log() - magnitudes[1].log()).abs().mean()
        total = total + convergence + log_term
    return total / len(resolutions)


def time_l1_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(prediction, target)


def mel_distance(prediction: torch.Tensor, target: torch.Tensor, sample_rate: int, n_fft: int = 1024, n_mels: int = 80):
    """Per-item mean absolute log10-mel difference (the report's mel distance; lower is better)."""
    mel_prediction = mel_spectrogram(prediction, sample_rate, n_fft, n_mels).clamp(min=1e-5).log10()
    mel_target = mel_spectrogram(target, sample_rate, n_fft, n_mels).clamp(min=1e-5).log10()
    return (mel_prediction - mel_target).abs().mean(dim=(1, 2))


def si_sdr(prediction: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SDR in dB per item (higher is better)."""
    prediction = prediction.reshape(prediction.shape[0], -1).double()
    target = target.reshape(target.shape[0], -1).double()
    prediction = prediction - prediction.mean(dim=1, keepdim=True)
    target = target - target.mean(dim=1, keepdim=True)
    scale = (prediction * target).sum(dim=1, keepdim=True) / (target.square().sum(dim=1, keepdim=True) + eps)
    projection = scale * target
    noise = prediction - projection
    ratio = projection.square().sum(dim=1) / (noise.square().sum(dim=1) + eps)
    return (10 * torch.log10(ratio + eps)).float()
