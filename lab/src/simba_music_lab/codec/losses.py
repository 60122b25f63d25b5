"""Reconstruction losses for codec training and the distances the quality report uses; pure torch, no torchaudio."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from simba_music.audio.spectrogram import mel_spectrogram

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
    every codec trained here adds, see :mod:`simba_music_lab.codec.comb`) costs it directly; in the codec trial it
    halved the comb.
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
