"""Small discriminators for the codec's adversarial stage, and the GAN losses that use them.

Reconstruction losses alone leave every codec trained here with a fixed comb at multiples of the 50 Hz frame rate
(:mod:`simba_music_lab.codec.comb`): an average-spectrum loss cannot tell a periodic artefact from the music under it. A
discriminator can, because it judges local structure. Two families, both sized for a CPU (about 0.1 M parameters
together):

- period discriminators (periods 2, 3, 5, 7, 11): the waveform folded into rows of ``period`` samples, 2-D convs that
  run down each column, so structure that repeats with that period (or a multiple of it) is judged on its own;
- spectrogram discriminators: 2-D convs over the log-magnitude STFT at the resolutions of the STFT loss, the finest
  with ~8 Hz bins, enough to resolve the teeth of a 50 Hz comb.

Losses are least squares (real -> 1, generated -> 0) plus feature matching, each averaged over the sub-discriminators,
so their scale does not grow with how many there are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from simba_music_lab.codec.losses import STFT_RESOLUTIONS

PERIODS = (2, 3, 5, 7, 11)  # primes: the periods overlap as little as possible
LEAK = 0.1

# One sub-discriminator's verdict: per-patch logits (B, N) and the feature maps it computed on the way.
Verdict = tuple[torch.Tensor, list[torch.Tensor]]


def _conv(in_channels: int, out_channels: int, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1)) -> nn.Conv2d:
    padding = (kernel[0] // 2, kernel[1] // 2)
    return weight_norm(nn.Conv2d(in_channels, out_channels, kernel, stride, padding))


class _ConvStack(nn.Module):
    """2-D convs with leaky ReLUs, then a one-channel output conv; every intermediate map is returned for
    feature matching."""

    def __init__(self, layers: list[nn.Conv2d], output: nn.Conv2d):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.output = output

    def forward(self, hidden: torch.Tensor) -> Verdict:
        features = []
        for layer in self.layers:
            hidden = F.leaky_relu(layer(hidden), LEAK)
            features.append(hidden)
        logits = self.output(hidden)
        features.append(logits)
        return logits.flatten(1), features


class PeriodDiscriminator(nn.Module):
    """(B, 1, T) -> the waveform as (B, 1, T / period, period), convs with (k, 1) kernels striding down the columns."""

    def __init__(self, period: int, channels: tuple[int, ...] = (16, 32, 32), kernel: int = 5, stride: int = 3):
        super().__init__()
        if period < 2:
            raise ValueError(f"period must be >= 2, got {period}")
        self.period = period
        layers, width = [], 1
        for out in channels:
            layers.append(_conv(width, out, (kernel, 1), (stride, 1)))
            width = out
        layers.append(_conv(width, width, (kernel, 1)))
        self.stack = _ConvStack(layers, _conv(width, 1, (3, 1)))

    def forward(self, audio: torch.Tensor) -> Verdict:
        batch, channels, length = audio.shape
        padding = (-length) % self.period
        if padding:
            audio = F.pad(audio, (0, padding), mode="reflect")
        folded = audio.reshape(batch, channels, (length + padding) // self.period, self.period)
        return self.stack(folded)


class SpectrogramDiscriminator(nn.Module):
    """(B, 1, T) -> log |STFT| as an image (B, 1, frames, bins) -> 2-D convs.

    Each strided layer halves the frequency axis, all but the first also the time axis: a comb is a pattern along
    frequency that lasts, so time detail is the cheaper thing to give up (this layout costs a third of keeping every
    frame, measured on one CPU thread)."""

    def __init__(self, n_fft: int, hop: int, channels: int = 16, strided_layers: int = 3):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        layers = [_conv(1 if i == 0 else channels, channels, (3, 5), (1 if i == 0 else 2, 2))
                  for i in range(strided_layers)]
        layers.append(_conv(channels, channels, (3, 3)))
        self.stack = _ConvStack(layers, _conv(channels, 1, (3, 3)))

    def forward(self, audio: torch.Tensor) -> Verdict:
        spectrum = torch.stft(audio.reshape(-1, audio.shape[-1]), self.n_fft, hop_length=self.hop,
                              window=self.window.to(audio.dtype), center=True, return_complex=True)
        log_magnitude = spectrum.abs().clamp(min=1e-5).log()  # (B, bins, frames)
        return self.stack(log_magnitude.transpose(1, 2).unsqueeze(1))


class CodecDiscriminator(nn.Module):
    """All sub-discriminators: ``forward(audio)`` gives one verdict per sub-discriminator, periods first."""

    def __init__(self, periods: tuple[int, ...] = PERIODS, resolutions=STFT_RESOLUTIONS):
        super().__init__()
        self.discriminators = nn.ModuleList(
            [PeriodDiscriminator(period) for period in periods]
            + [SpectrogramDiscriminator(n_fft, hop) for n_fft, hop in resolutions]
        )

    def forward(self, audio: torch.Tensor) -> list[Verdict]:
        if audio.dim() != 3 or audio.shape[1] != 1:
            raise ValueError(f"audio must be (batch, 1, samples), got {tuple(audio.shape)}")
        return [discriminator(audio) for discriminator in self.discriminators]


def discriminator_loss(real: list[Verdict], generated: list[Verdict]) -> torch.Tensor:
    """Least squares: pushes real logits to 1 and generated ones to 0 (pass generated audio detached)."""
    terms = [(1 - r).square().mean() + g.square().mean() for (r, _), (g, _) in zip(real, generated, strict=True)]
    return torch.stack(terms).mean()


def generator_adversarial_loss(generated: list[Verdict]) -> torch.Tensor:
    """Least squares for the generator: its audio should be judged real (1)."""
    return torch.stack([(1 - g).square().mean() for g, _ in generated]).mean()


def feature_matching_loss(real: list[Verdict], generated: list[Verdict]) -> torch.Tensor:
    """L1 between the discriminator's feature maps for real and generated audio, averaged over maps and
    sub-discriminators; the real side is a fixed target."""
    terms = []
    for (_, real_maps), (_, generated_maps) in zip(real, generated, strict=True):
        terms.append(torch.stack([(r.detach() - g).abs().mean()
                                  for r, g in zip(real_maps, generated_maps, strict=True)]).mean())
    return torch.stack(terms).mean()
