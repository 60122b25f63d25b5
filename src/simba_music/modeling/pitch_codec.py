"""The pitch-keeping codec: fixed log-STFT analysis, residual k-means codes, ConvNeXt + inverse-STFT decoder.

Why this shape (measured in the codec A/B of issue 30, see `lab/docs/PITCH_CODEC.md`): the codecs trained end to end
here turned every piece into G major, because their transposed-convolution decoders lay a comb at multiples of the
50 Hz frame rate over the output. Here

* the encoder has no weights to learn: `log(|STFT_2048| + floor)` resolves semitones (7.8 Hz bins at 16 kHz), and the
  codes are the nearest entries of residual codebooks fitted by k-means on renders transposed into every key (so no
  key is privileged by the vocabulary);
* the decoder writes the complex spectrum of each frame (log-magnitude and phase, Vocos-style) and overlap-adds it;
  with no upsampling convolution there is no frame-periodic pulse for it to emit.

Shapes: waveforms are float [batch, 1, samples]; codes are long [batch, num_codebooks, frames] with
`frames = ceil(samples / hop_length)`; decoding gives `frames * hop_length` samples. Frame `t` is centred on sample
`t * hop_length` in both directions, so codes and audio line up exactly.

Streaming: a decoded frame depends on `config.receptive_field_frames` frames on each side, so decoding a window with
that much context on both sides and keeping its middle equals the one-shot decode (`decode_stream`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_pitch_codec import PitchCodecConfig


@dataclass
class PitchCodecOutput(ModelOutput):
    """`audio_codes` [batch, num_codebooks, frames] and the decoded `audio_values` [batch, 1, frames * hop]."""

    audio_codes: torch.LongTensor | None = None
    audio_values: torch.FloatTensor | None = None


def log_stft_features(waveform: torch.Tensor, config: PitchCodecConfig) -> torch.Tensor:
    """[batch, samples] -> [batch, frames, analysis_n_fft // 2 + 1] log-magnitudes, `frames = ceil(samples / hop)`."""
    hop = config.hop_length
    frames = -(-waveform.shape[-1] // hop)
    waveform = F.pad(waveform, (0, frames * hop - waveform.shape[-1]))
    window = torch.hann_window(config.analysis_n_fft, device=waveform.device, dtype=waveform.dtype)
    spectrum = torch.stft(waveform, config.analysis_n_fft, hop, window=window, center=True, pad_mode="constant",
                          return_complex=True)
    return torch.log(spectrum.abs() + config.log_floor)[..., :frames].transpose(1, 2)


def overlap_add_istft(spectrum: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """[batch, n_fft // 2 + 1, frames] complex -> [batch, frames * hop] audio; frame `t` is centred on `t * hop`."""
    frames = spectrum.shape[-1]
    pieces = torch.fft.irfft(spectrum, n=n_fft, dim=1) * window[:, None]  # [B, n_fft, T]
    total = (frames - 1) * hop + n_fft
    audio = F.fold(pieces, (1, total), (1, n_fft), stride=(1, hop))[:, 0, 0]
    envelope = F.fold(window.square()[None, :, None].expand(1, n_fft, frames), (1, total), (1, n_fft),
                      stride=(1, hop))[0, 0, 0]
    start = n_fft // 2
    return audio[:, start:start + frames * hop] / envelope[start:start + frames * hop].clamp(min=1e-8)


class PitchCodecBlock(nn.Module):
    """ConvNeXt block: depthwise conv -> LayerNorm -> MLP -> per-channel scale, added to the input."""

    def __init__(self, config: PitchCodecConfig):
        super().__init__()
        width, kernel = config.decoder_hidden_size, config.decoder_kernel_size
        self.depthwise = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width)
        self.norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.up = nn.Linear(width, config.decoder_intermediate_size)
        self.down = nn.Linear(config.decoder_intermediate_size, width)
        self.scale = nn.Parameter(torch.full((width,), config.layer_scale_init))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # [B, C, T]
        branch = self.norm(self.depthwise(hidden).transpose(1, 2))
        branch = self.down(F.gelu(self.up(branch))) * self.scale
        return hidden + branch.transpose(1, 2)


class PitchCodecPreTrainedModel(PreTrainedModel):
    config_class = PitchCodecConfig
    base_model_prefix = "pitch_codec"
    main_input_name = "input_values"

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            module.weight.normal_(0.0, self.config.initializer_range)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
        elif isinstance(module, PitchCodecBlock):
            module.scale.fill_(self.config.layer_scale_init)


class PitchCodecModel(PitchCodecPreTrainedModel):
    """Waveform <-> codes; see the module docstring. The codebooks are a buffer (fitted by k-means, not by gradient):
    a fresh model's are zeros until `set_codebooks` is called with entries drawn from real frames."""

    def __init__(self, config: PitchCodecConfig):
        super().__init__(config)
        self.register_buffer("codebooks", torch.zeros(config.num_codebooks, config.codebook_size,
                                                      config.feature_size))
        width, kernel = config.decoder_hidden_size, config.decoder_kernel_size
        self.input_conv = nn.Conv1d(config.feature_size, width, kernel, padding=kernel // 2)
        self.blocks = nn.ModuleList(PitchCodecBlock(config) for _ in range(config.decoder_num_layers))
        self.final_norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.head = nn.Linear(width, config.synthesis_n_fft + 2)  # log-magnitude and phase of n_fft // 2 + 1 bins
        self.post_init()

    # The same attribute names as `AudioCodec`, so `ChunkedAudioDecoder` can stream this model directly.
    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def frame_rate(self) -> float:
        return self.config.frame_rate

    def set_codebooks(self, codebooks: torch.Tensor) -> None:
        """Install fitted codebooks [num_codebooks, codebook_size, feature_size]."""
        expected = tuple(self.codebooks.shape)
        if tuple(codebooks.shape) != expected:
            raise ValueError(f"codebooks: expected shape {list(expected)}, got {list(codebooks.shape)}")
        with torch.no_grad():
            self.codebooks.copy_(codebooks.to(self.codebooks))

    def features(self, input_values: torch.Tensor) -> torch.Tensor:
        """[batch, 1, samples] or [batch, samples] -> [batch, frames, feature_size] (the unquantized features)."""
        if input_values.dim() == 3:
            if input_values.shape[1] != 1:
                raise ValueError(f"input_values: expected one channel, got shape {list(input_values.shape)}")
            input_values = input_values[:, 0]
        if input_values.dim() != 2:
            raise ValueError(f"input_values: expected [batch, 1, samples], got shape {list(input_values.shape)}")
        return log_stft_features(input_values.float(), self.config)

    def quantize(self, features: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """[batch, frames, feature_size] -> codes [batch, num_codebooks, frames] (residual nearest entries)."""
        num_codebooks = self._check_num_codebooks(num_codebooks)
        residual = features.reshape(-1, features.shape[-1]).float()
        codes = []
        for book in self.codebooks[:num_codebooks].float():
            index = torch.cdist(residual, book).argmin(dim=-1)
            residual = residual - book[index]
            codes.append(index)
        return torch.stack(codes).reshape(num_codebooks, *features.shape[:2]).transpose(0, 1)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [batch, k, frames] -> the sum of their first `k` codebooks' entries [batch, frames, feature_size]."""
        if codes.dim() != 3:
            raise ValueError(f"codes: expected [batch, num_codebooks, frames], got shape {list(codes.shape)}")
        self._check_num_codebooks(codes.shape[1])
        if codes.numel() and not 0 <= int(codes.min()) <= int(codes.max()) < self.config.codebook_size:
            raise ValueError(f"codes: values must be in [0, {self.config.codebook_size}), got range "
                             f"[{int(codes.min())}, {int(codes.max())}]")
        books = self.codebooks[:codes.shape[1]]
        return sum(books[k][codes[:, k]] for k in range(codes.shape[1]))

    def _check_num_codebooks(self, num_codebooks: int | None) -> int:
        num_codebooks = self.config.num_codebooks if num_codebooks is None else num_codebooks
        if not 1 <= num_codebooks <= self.config.num_codebooks:
            raise ValueError(f"num_codebooks: must be in [1, {self.config.num_codebooks}], got {num_codebooks}")
        return num_codebooks

    def encode(self, input_values: torch.Tensor, num_codebooks: int | None = None) -> torch.LongTensor:
        """[batch, 1, samples] -> codes [batch, num_codebooks, ceil(samples / hop_length)]."""
        with torch.no_grad():
            return self.quantize(self.features(input_values), num_codebooks)

    def synthesize(self, features: torch.Tensor) -> torch.Tensor:
        """[batch, frames, feature_size] -> [batch, 1, frames * hop_length] (differentiable: the decoder's training)."""
        hidden = self.input_conv(features.transpose(1, 2).to(self.input_conv.weight.dtype))
        for block in self.blocks:
            hidden = block(hidden)
        out = self.head(self.final_norm(hidden.transpose(1, 2))).transpose(1, 2).float()
        log_magnitude, phase = out.chunk(2, dim=1)
        spectrum = torch.polar(torch.exp(log_magnitude.clamp(max=self.config.max_log_magnitude)), phase)
        # Made here, not kept as a non-persistent buffer: from_pretrained leaves those uninitialized (meta device).
        window = torch.hann_window(self.config.synthesis_n_fft, device=spectrum.device)
        return overlap_add_istft(spectrum, self.config.synthesis_n_fft, self.config.hop_length, window)[:, None]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [batch, k, frames] -> [batch, 1, frames * hop_length]."""
        return self.synthesize(self.dequantize(codes))

    def decode_stream(self, chunks: Iterable[torch.Tensor], chunk_frames: int | None = None) -> Iterator[torch.Tensor]:
        """Decode codes arriving in pieces [batch, k, n]; yields audio chunks whose concatenation equals
        `decode(all codes)` (to float rounding)."""
        from .streaming import ChunkedAudioDecoder

        out: list[torch.Tensor] = []
        collect = type("_Collect", (), {"put": lambda _self, value: out.append(value), "end": lambda _self: None})()
        context = self.config.receptive_field_frames
        chunker = ChunkedAudioDecoder(self, collect, chunk_frames or context, context, context)
        for codes in chunks:
            chunker.push(codes)
            yield from out
            out.clear()
        chunker.finish()
        yield from out

    def forward(self, input_values: torch.Tensor, num_codebooks: int | None = None,
                return_dict: bool | None = None) -> PitchCodecOutput | tuple:
        """Round trip: encode, then decode (gradients flow into the decoder only)."""
        codes = self.encode(input_values, num_codebooks)
        audio = self.decode(codes)
        if return_dict is False:
            return codes, audio
        return PitchCodecOutput(audio_codes=codes, audio_values=audio)


__all__ = ["PitchCodecModel", "PitchCodecOutput", "PitchCodecPreTrainedModel", "log_stft_features",
           "overlap_add_istft"]
