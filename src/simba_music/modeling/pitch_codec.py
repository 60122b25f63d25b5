"""The pitch-keeping codec: fixed log-STFT analysis, residual k-means codes, refined magnitudes, phase vocoder.

Why this shape (measured in the codec A/B of issue 30, see `lab/docs/PITCH_CODEC.md`): the codecs trained end to end
here turned every piece into G major, because their decoders lay a comb at multiples of the 50 Hz frame rate over the
output; an inverse-STFT head trained without discriminators did the same (it can choose one phase for every frame).
Here

* the encoder has no weights to learn: `log(|STFT_2048| + floor)` resolves semitones (7.8 Hz bins at 16 kHz), and the
  codes are the nearest entries of residual codebooks fitted by k-means on renders transposed into every key (so no
  key is privileged by the vocabulary);
* the decoder sums the codes' entries, corrects them with a ConvNeXt stack (zero at initialisation, so an untrained
  decoder is the training-free codec) and synthesizes with a peak-locked phase vocoder (`phase_vocoder.py`), whose
  phases follow each partial's frequency and carry no frame clock.

Shapes: waveforms are float [batch, 1, samples]; codes are long [batch, num_codebooks, frames] with
`frames = ceil(samples / hop_length)`; decoding gives `frames * hop_length` samples. Frame `t` is centred on sample
`t * hop_length` in both directions, so codes and audio line up exactly.

Streaming: `PitchCodecStreamDecoder` refines each frame once `decoder_reach_frames` later frames exist, and carries
the phase vocoder's state, so audio decoded in pieces equals the one-shot decode (which runs the same path).
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
from .keys import pitch_class_weights
from .phase_vocoder import PhaseVocoderStream


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
        if isinstance(module, PitchCodecModel):  # the refinement starts as no correction at all
            module.head.weight.zero_()
            module.head.bias.zero_()


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
        self.head = nn.Linear(width, config.feature_size)  # a correction to the dequantized log-magnitudes
        self.post_init()

    # The same attribute names as `AudioCodec`.
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

    def code_spectra(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The magnitude spectrum each first-codebook entry decodes to [codebook_size, bins] (float64; the
        refinement left out: it corrects, it does not move partials) and the bins' frequencies in Hz [bins]."""
        magnitude = (self.codebooks[0].double().exp() - self.config.log_floor).clamp(min=0.0)
        frequencies = torch.arange(magnitude.shape[-1], dtype=torch.float64) * (self.config.sampling_rate
                                                                              / self.config.analysis_n_fft)
        return magnitude, frequencies

    def code_chroma(self) -> torch.Tensor:
        """Pitch-class power of each first-codebook entry [codebook_size, 12] (index 0 = C), from `code_spectra`.
        Key steering reads pitch here."""
        magnitude, frequencies = self.code_spectra()
        weights = torch.from_numpy(pitch_class_weights(frequencies.numpy())).to(magnitude)
        return (magnitude**2 @ weights).float()

    def _check_num_codebooks(self, num_codebooks: int | None) -> int:
        num_codebooks = self.config.num_codebooks if num_codebooks is None else num_codebooks
        if not 1 <= num_codebooks <= self.config.num_codebooks:
            raise ValueError(f"num_codebooks: must be in [1, {self.config.num_codebooks}], got {num_codebooks}")
        return num_codebooks

    def encode(self, input_values: torch.Tensor, num_codebooks: int | None = None) -> torch.LongTensor:
        """[batch, 1, samples] -> codes [batch, num_codebooks, ceil(samples / hop_length)]."""
        with torch.no_grad():
            return self.quantize(self.features(input_values), num_codebooks)

    def refine(self, features: torch.Tensor) -> torch.Tensor:
        """Dequantized [batch, frames, feature_size] -> refined log-magnitudes, same shape (differentiable)."""
        hidden = self.input_conv(features.transpose(1, 2).to(self.input_conv.weight.dtype))
        for block in self.blocks:
            hidden = block(hidden)
        correction = self.head(self.final_norm(hidden.transpose(1, 2))).float()
        return (features.float() + correction).clamp(max=self.config.max_log_magnitude)

    def synthesize(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """[batch, frames, feature_size] log-magnitudes -> [batch, 1, frames * hop_length] (differentiable in them)."""
        stream = PhaseVocoderStream(self.config.analysis_n_fft, self.config.hop_length, self.config.log_floor,
                                    log_magnitude.shape[0], log_magnitude.device)
        return torch.cat([stream.push(log_magnitude.float()), stream.finish()], dim=-1)[:, None]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [batch, k, frames] -> [batch, 1, frames * hop_length] (differentiable in the decoder's weights)."""
        stream = PitchCodecStreamDecoder(self)
        return torch.cat([stream.push(codes), stream.finish()], dim=-1)

    def decode_stream(self, chunks: Iterable[torch.Tensor], chunk_frames: int = 1) -> Iterator[torch.Tensor]:
        """Decode codes arriving in pieces [batch, k, n]; yields audio chunks [batch, 1, samples] whose
        concatenation equals `decode(all codes)` (to float rounding)."""
        stream = PitchCodecStreamDecoder(self, chunk_frames)
        for codes in chunks:
            audio = stream.push(codes)
            if audio.shape[-1]:
                yield audio
        yield stream.finish()

    def forward(self, input_values: torch.Tensor, num_codebooks: int | None = None,
                return_dict: bool | None = None) -> PitchCodecOutput | tuple:
        """Round trip: encode, then decode (gradients flow into the decoder only)."""
        codes = self.encode(input_values, num_codebooks)
        audio = self.decode(codes)
        if return_dict is False:
            return codes, audio
        return PitchCodecOutput(audio_codes=codes, audio_values=audio)


class PitchCodecStreamDecoder:
    """Codes in (any number of frames per `push`), audio out. A frame is refined once `decoder_reach_frames` frames
    after it have arrived (from a window with as many frames before it, so it equals the one-shot refinement); the
    phase vocoder's state runs on from push to push. `finish()` refines the rest and returns the tail.
    `chunk_frames`: refine only once at least this many frames are ready (each refinement re-reads
    `2 * decoder_reach_frames` frames of context, so tiny chunks cost more)."""

    def __init__(self, model: PitchCodecModel, chunk_frames: int = 1):
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames: must be >= 1, got {chunk_frames}")
        self.model = model
        self.chunk_frames = chunk_frames
        self.reach = model.config.decoder_reach_frames
        self.codes: torch.Tensor | None = None  # [B, k, n]: frames codes_start .. codes_start + n
        self.codes_start = 0
        self.refined = 0  # frames sent to the phase vocoder
        self.vocoder: PhaseVocoderStream | None = None

    def push(self, codes: torch.Tensor) -> torch.Tensor:
        self.model.dequantize(codes[..., :0])  # validates the shape before anything is kept
        self.codes = codes if self.codes is None else torch.cat([self.codes, codes], dim=-1)
        ready = self.codes_start + self.codes.shape[-1] - self.reach
        return self._advance(ready if ready - self.refined >= self.chunk_frames else self.refined)

    def finish(self) -> torch.Tensor:
        if self.codes is None:
            raise ValueError("codes: nothing was pushed")
        tail = self._advance(self.codes_start + self.codes.shape[-1])
        return torch.cat([tail, self.vocoder.finish()[:, None]], dim=-1)

    def _advance(self, end: int) -> torch.Tensor:
        """Refine frames [refined, end) and return the audio the phase vocoder finishes with them."""
        if self.vocoder is None:
            config = self.model.config
            self.vocoder = PhaseVocoderStream(config.analysis_n_fft, config.hop_length, config.log_floor,
                                              self.codes.shape[0], self.codes.device)
        if end > self.refined:
            start = max(self.codes_start, self.refined - self.reach)
            window = self.codes[..., start - self.codes_start:]
            refined = self.model.refine(self.model.dequantize(window))
            audio = self.vocoder.push(refined[:, self.refined - start:end - start])
            self.refined = end
            keep = max(self.codes_start, end - self.reach)  # the left context the next window needs
            self.codes, self.codes_start = self.codes[..., keep - self.codes_start:], keep
        else:  # no new frame: nothing new is finished
            audio = self.vocoder.audio.new_zeros(self.codes.shape[0], 0)
        return audio[:, None]


__all__ = ["PitchCodecModel", "PitchCodecOutput", "PitchCodecPreTrainedModel", "PitchCodecStreamDecoder",
           "log_stft_features"]
