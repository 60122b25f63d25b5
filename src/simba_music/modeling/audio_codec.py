"""One small adapter over the neural audio codecs (transformers' `EncodecModel`, `DacModel`, `WavTokenizerModel`, and
this package's `PitchCodecModel`).

The text-to-music model only needs: the rates, the channel count, the codebook size, how many codebooks it models,
and codes <-> waveform. Each codec spells these differently (EnCodec returns codes per chunk with a scale and picks
codebooks through a bandwidth; DAC returns [B, K, T] and squeezes the channel axis on decode; WavTokenizer has
exactly one codebook; the pitch codec has residual k-means codebooks and names its hop `hop_length`), so the
differences live here and nowhere else.

`Xcodec2Model` is not supported: its encoder needs SeamlessM4T filter-bank features for a Wav2Vec2-BERT semantic model
next to the waveform, and its 65,536-code FSQ vocabulary would make the decoder's embedding and head 64x larger than
a 1024-code codec's.
"""

from __future__ import annotations

import math

import torch

from .threads import threads_fitted_to_machine
from .values import codec_frame_rate, codec_hop_length

SUPPORTED_CODECS = ("encodec", "dac", "wavtokenizer", "pitch_codec")


class AudioCodec:
    """Codes <-> waveform for the first `num_codebooks` codebooks of an `EncodecModel`, `DacModel` or
    `PitchCodecModel`, or the single codebook of a `WavTokenizerModel` (which needs no delay pattern:
    `num_codebooks=1`).

    Not an `nn.Module` on purpose: the composite model owns the codec as `audio_encoder` (so its weights are saved
    under that prefix once); this object only holds a reference.

    Shapes: waveforms are float [batch, channels, samples]; codes are long [batch, num_codebooks, frames].
    """

    def __init__(self, model, num_codebooks: int = 1):
        config = model.config
        if config.model_type not in SUPPORTED_CODECS:
            raise ValueError(f"audio_encoder: model_type must be one of {list(SUPPORTED_CODECS)}, "
                             f"got {config.model_type!r}")
        if config.model_type == "encodec" and config.chunk_length is not None:
            # Chunked EnCodec (the 48 kHz model) cross-fades chunks with per-chunk scales; generated codes carry no
            # scales, so only the un-chunked models (24 kHz, MusicGen's 32 kHz) are supported.
            raise ValueError("audio_encoder: chunked EnCodec (chunk_length_s set) is not supported; use a model "
                             "with chunk_length_s=None")
        self.model = model
        self.kind = config.model_type
        if not 1 <= num_codebooks <= self.max_codebooks:
            raise ValueError(f"num_codebooks: must be in [1, {self.max_codebooks}] for this {self.kind} codec, "
                             f"got {num_codebooks}")
        self.num_codebooks = num_codebooks

    @property
    def config(self):
        return self.model.config

    @property
    def sampling_rate(self) -> int:
        return int(self.config.sampling_rate)

    @property
    def hop_length(self) -> int:
        return int(codec_hop_length(self.config.to_dict()))

    def incremental_decoder(self, chunk_frames: int = 1):
        """A stateful decoder (`push(codes) -> audio`, `finish() -> audio`) that decodes each frame once, carrying
        state from chunk to chunk: the pitch codec's phase vocoder, and causal EnCodec (its layers' past). None for
        the others: `ChunkedAudioDecoder` then decodes overlapping windows instead."""
        if self.kind == "pitch_codec":
            from .pitch_codec import PitchCodecStreamDecoder

            return _IncrementalDecoder(self, PitchCodecStreamDecoder(self.model, chunk_frames))
        if self.kind == "encodec":
            from .encodec_stream import EncodecStreamDecoder, streams_exactly

            if streams_exactly(self.model):
                return _IncrementalDecoder(self, EncodecStreamDecoder(self.model, chunk_frames))
        return None

    @property
    def frame_rate(self) -> float:
        return codec_frame_rate(self.config.to_dict())

    @property
    def channels(self) -> int:
        return int(self.config.audio_channels) if self.kind == "encodec" else 1

    @property
    def reads_pitch(self) -> bool:
        """Whether each code's spectrum, hence its pitch content, can be read off the codec (`code_spectra`,
        `code_chroma`): the pitch codec's codes are spectra; a neural codec's codes mean something only through its
        decoder."""
        return self.kind == "pitch_codec"

    def code_spectra(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(magnitude spectrum of each first-codebook code [codebook_size, bins], bin frequencies in Hz [bins]), or
        None for a codec whose codes are not spectra (see `reads_pitch`)."""
        return self.model.code_spectra() if self.reads_pitch else None

    def check_reads_pitch(self, name: str = "key") -> None:
        """A ValueError naming `name` (the argument or flag that asked for a key) unless `reads_pitch`."""
        if not self.reads_pitch:
            raise ValueError(f"{name}: this model's {self.kind} codec does not say which pitches its codes carry, "
                             "so its output cannot be steered toward a key (the pitch codec's can)")

    def code_chroma(self) -> torch.Tensor:
        """[codebook_size, 12] pitch-class power of each first-codebook code (see `reads_pitch`)."""
        self.check_reads_pitch()
        return self.model.code_chroma()

    @property
    def codebook_size(self) -> int:
        return int(self.config.codebook_size)

    @property
    def max_codebooks(self) -> int:
        if self.kind == "encodec":
            return self._encodec_codebooks(self.config.target_bandwidths[-1])
        if self.kind == "wavtokenizer":
            return 1
        if self.kind == "pitch_codec":
            return int(self.config.num_codebooks)
        return int(self.config.n_codebooks)

    def _encodec_codebooks(self, bandwidth: float) -> int:
        bits = math.ceil(math.log2(self.codebook_size))
        return max(1, int(1000 * bandwidth // (self.config.frame_rate * bits)))

    def _encodec_bandwidth(self) -> float:
        """The smallest target bandwidth whose residual quantizer produces at least `num_codebooks` codebooks."""
        for bandwidth in sorted(self.config.target_bandwidths):
            if self._encodec_codebooks(bandwidth) >= self.num_codebooks:
                return bandwidth
        return max(self.config.target_bandwidths)

    def frames_for(self, num_samples: int) -> int:
        return math.ceil(num_samples / self.hop_length)

    @torch.no_grad()
    def encode(self, waveform: torch.Tensor) -> torch.Tensor:
        """[B, channels, samples] float -> [B, num_codebooks, frames] long."""
        if waveform.dim() != 3 or waveform.shape[1] != self.channels:
            raise ValueError(f"waveform: expected shape [batch, {self.channels}, samples], got {list(waveform.shape)}")
        parameter = next(self.model.parameters())
        waveform = waveform.to(device=parameter.device, dtype=parameter.dtype)
        if self.kind == "encodec":
            codes = self.model.encode(waveform, bandwidth=self._encodec_bandwidth(), return_dict=True).audio_codes
            codes = codes[0]  # one chunk: [B, K_bandwidth, T]
        elif self.kind == "wavtokenizer":
            codes = self.model.encode(waveform, return_dict=True).audio_codes  # [B, 1, T]
        elif self.kind == "pitch_codec":
            codes = self.model.encode(waveform, num_codebooks=self.num_codebooks)
        else:
            codes = self.model.encode(waveform, n_quantizers=self.num_codebooks, return_dict=True).audio_codes
        return codes[:, :self.num_codebooks].long()

    def check_codes(self, codes: torch.Tensor) -> None:
        if codes.dim() != 3 or codes.shape[1] != self.num_codebooks:
            raise ValueError(f"codes: expected shape [batch, {self.num_codebooks}, frames], got {list(codes.shape)}")
        if codes.numel() and not 0 <= int(codes.min()) <= int(codes.max()) < self.codebook_size:
            raise ValueError(f"codes: values must be in [0, {self.codebook_size}), got range "
                             f"[{int(codes.min())}, {int(codes.max())}]")

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """[B, num_codebooks, frames] long -> [B, channels, frames * hop_length] float32."""
        self.check_codes(codes)
        codes = codes.to(next(self.model.parameters()).device)
        # Fewer threads while other processes hold cores: measured on 2 busy cores, the demo codec decoded 105
        # frames in 0.65 s on 2 threads and 0.06 s on 1 (a streamed chunk is decoded every second).
        with threads_fitted_to_machine(codes.device):
            if self.kind == "encodec":
                # Codes decoded from generation carry no loudness scale: unit scale, as MusicGen does.
                audio = self.model.decode(codes[None], [None], return_dict=True).audio_values
            elif self.kind == "wavtokenizer":
                audio = self.model.decode(codes, return_dict=True).audio_values  # [B, 1, samples]
            elif self.kind == "pitch_codec":
                audio = self.model.decode(codes)  # [B, 1, frames * hop]
            else:
                audio = self.model.decode(audio_codes=codes, return_dict=True).audio_values[:, None]
        return _checked(audio[..., :codes.shape[-1] * self.hop_length].float())


class _IncrementalDecoder:
    """`AudioCodec.incremental_decoder()`: a codec's stream decoder, its codes checked, run without gradient on
    the threads `decode` uses, its audio float32 and finite."""

    def __init__(self, codec: AudioCodec, stream):
        self.codec = codec
        self.stream = stream

    @torch.no_grad()
    def push(self, codes: torch.Tensor) -> torch.Tensor:
        self.codec.check_codes(codes)
        codes = codes.to(next(self.codec.model.parameters()).device)
        with threads_fitted_to_machine(codes.device):
            return _checked(self.stream.push(codes).float())

    @torch.no_grad()
    def finish(self) -> torch.Tensor:
        with threads_fitted_to_machine(next(self.codec.model.parameters()).device):
            return _checked(self.stream.finish().float())


def _checked(audio: torch.Tensor) -> torch.Tensor:
    if not bool(torch.isfinite(audio).all()):  # written as PCM, NaN would become full-scale -32768 samples
        raise FloatingPointError("audio_encoder: the codec decoded non-finite audio (NaN or inf); its weights are "
                                 "broken")
    return audio


__all__ = ["AudioCodec", "SUPPORTED_CODECS"]
