"""Distribution distance between generated and real clips: the Frechet distance between Gaussians fitted to clip
embeddings that exist offline.

Embeddings (named for what they are; neither is VGGish, so neither result is a "FAD"):
- `frechet_mel_distance`: per-clip log-mel statistics (mean and standard deviation over time of 64 log-mel bands at
  16 kHz, 128 values).
- `frechet_codec_latent_distance`: the time-average of the model's own codec encoder output (before quantisation).
With few clips (tens) in 128 dimensions the covariances are rank-deficient and the distance is biased upwards; compare
numbers only at equal clip counts.
"""

from __future__ import annotations

import numpy as np
import torch

from simba_music_lab.codec.formats import codec_encoder

from .features import conform


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between Gaussians fitted to two sets of row vectors.

    Tr((S1 S2)^(1/2)) is computed as the sum of square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2), which is
    symmetric positive semi-definite, so the result is real and stable for singular covariances."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise ValueError(f"first, second: need two [clips, dims] arrays of equal width, got {first.shape} and "
                         f"{second.shape}")
    if min(len(first), len(second)) < 2:
        raise ValueError(f"first, second: need at least 2 clips in each set, got {len(first)} and {len(second)}")
    mean_gap = first.mean(axis=0) - second.mean(axis=0)
    cov_first, cov_second = np.atleast_2d(np.cov(first, rowvar=False)), np.atleast_2d(np.cov(second, rowvar=False))
    values, vectors = np.linalg.eigh(cov_first)
    root_first = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root_first @ cov_second @ root_first
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    distance = mean_gap @ mean_gap + np.trace(cov_first) + np.trace(cov_second) - 2.0 * cross
    return float(max(distance, 0.0))


@torch.no_grad()
def codec_latent_embedding(codec_model, audio, rate: int) -> np.ndarray:
    """Mean over time of the codec's encoder output (EnCodec, DAC or WavTokenizer in transformers; the latent before
    quantization) for mono audio at `rate`, conformed to the codec's rate and channel count: [latent channels]."""
    target_rate = int(codec_model.config.sampling_rate)
    channels = int(getattr(codec_model.config, "audio_channels", 1))
    mono = conform(audio, rate, target_rate)
    parameter = next(codec_model.parameters())
    waveform = torch.as_tensor(mono, dtype=parameter.dtype, device=parameter.device)[None, None]
    latent = codec_encoder(codec_model)(waveform.expand(1, channels, -1))
    return latent[0].mean(dim=-1).float().cpu().numpy()


@torch.no_grad()
def reconstruct_with_codec(codec, audio) -> np.ndarray:
    """Mono `audio` at the codec's rate as `codec` (an `AudioCodec`) reproduces it: [codec channels, samples]."""
    waveform = torch.as_tensor(audio, dtype=torch.float32)[None, None].expand(1, codec.channels, -1)
    return codec.decode(codec.encode(waveform))[0].cpu().numpy()


__all__ = ["codec_latent_embedding", "frechet_distance", "reconstruct_with_codec"]
