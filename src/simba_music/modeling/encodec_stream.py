"""Decoding a causal EnCodec frame by frame, carrying each layer's state instead of re-decoding a window.

EnCodec's decoder (SEANet: convolutions, an LSTM, transposed convolutions, ELUs) is causal when the codec was
trained with `use_causal_conv=True`: each output sample depends on the codes up to its frame only. So the stream
can keep, per layer, exactly what the next frames need (a causal convolution its last `(k - 1) * dilation` inputs,
a transposed convolution the tail its last frames overlap into, the LSTM its hidden state) and decode every frame
once. The audio equals a one-shot decode of all the codes (float rounding aside: the same sums in another order),
with no window of context to re-decode: at 1 s chunks and 5 s of context that was six decodes of each frame.

Non-causal EnCodec (MusicGen's 32 kHz codec) looks ahead and cannot be decoded this way: `ChunkedAudioDecoder`
decodes overlapping windows for it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.encodec.modeling_encodec import (
    EncodecConv1d,
    EncodecConvTranspose1d,
    EncodecLSTM,
    EncodecResnetBlock,
)


def streams_exactly(model) -> bool:
    """Whether `model` (an EncodecModel) can be decoded frame by frame with carried state."""
    config = model.config
    return bool(config.use_causal_conv) and config.norm_type == "weight_norm" and config.trim_right_ratio == 1.0


class EncodecStreamDecoder:
    """`push(codes [B, K, n]) -> audio [B, channels, m * hop]`, `finish() -> the rest`, for a causal EncodecModel.

    Codes wait until `chunk_frames` of them (and at least the first layers' receptive field, on the first push) can
    be decoded together: a decode of one frame is dozens of small calls, so frames are decoded in chunks.
    """

    def __init__(self, model, chunk_frames: int = 1):
        if not streams_exactly(model):
            raise ValueError("model: only a causal EnCodec (use_causal_conv=True, weight_norm, trim_right_ratio=1.0) "
                             "can be decoded frame by frame")
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames: must be >= 1, got {chunk_frames}")
        self.model = model
        self.first_frames = first_frames_needed(model.decoder)
        self.chunk_frames = max(chunk_frames, self.first_frames)
        self.pending: torch.Tensor | None = None  # codes pushed and not yet decoded
        self.states: dict[int, object] = {}  # per layer (by id): what the next frames need from the past

    def push(self, codes: torch.Tensor) -> torch.Tensor:
        self.pending = codes if self.pending is None else torch.cat([self.pending, codes], dim=-1)
        if self.pending.shape[-1] < self.chunk_frames:
            return self._empty(codes)
        return self._decode_pending()

    def finish(self) -> torch.Tensor:
        if self.pending is None:
            raise ValueError("codes: nothing was pushed")
        if not self.states and self.pending.shape[-1] < self.first_frames:
            # Too short to have started: the one-shot decode (its padding handles short inputs).
            audio, self.pending = self.model.decode(self.pending[None], [None]).audio_values, self.pending[..., :0]
            return audio
        return self._decode_pending() if self.pending.shape[-1] else self._empty(self.pending)

    def _empty(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.new_zeros((codes.shape[0], self.model.config.audio_channels, 0), dtype=torch.float32)

    def _decode_pending(self) -> torch.Tensor:
        codes, self.pending = self.pending, self.pending[..., :0]
        hidden = self.model.quantizer.decode(codes.transpose(0, 1))
        for layer in self.model.decoder.layers:
            hidden = self._layer(layer, hidden)
        return hidden

    def _layer(self, layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        if isinstance(layer, EncodecConv1d):
            return self._conv(layer, hidden)
        if isinstance(layer, EncodecConvTranspose1d):
            return self._conv_transpose(layer, hidden)
        if isinstance(layer, EncodecLSTM):
            output, self.states[id(layer)] = layer.lstm(hidden.permute(2, 0, 1), self.states.get(id(layer)))
            return (output + hidden.permute(2, 0, 1)).permute(1, 2, 0)
        if isinstance(layer, EncodecResnetBlock):
            residual = hidden
            for sublayer in layer.block:
                hidden = self._layer(sublayer, hidden)
            return self._layer(layer.shortcut, residual) + hidden
        if isinstance(layer, (nn.ELU, nn.Identity)):
            return layer(hidden)
        raise TypeError(f"EncodecStreamDecoder: no streaming rule for {type(layer).__name__}")

    def _conv(self, layer: EncodecConv1d, hidden: torch.Tensor) -> torch.Tensor:
        """Stride 1, left padding only: the first call pads as the one-shot decode does (reflecting its first
        samples); later calls see the true past instead."""
        past = int(layer.padding_total)
        previous = self.states.get(id(layer))
        if previous is None:
            output = layer(hidden)
        else:
            hidden = torch.cat([previous, hidden], dim=-1)
            output = layer.conv(hidden)
        if past:
            self.states[id(layer)] = hidden[..., -past:]
        return output

    def _conv_transpose(self, layer: EncodecConvTranspose1d, hidden: torch.Tensor) -> torch.Tensor:
        """Each input frame writes `kernel` samples `stride` apart; the last `kernel - stride` of a chunk overlap the
        next chunk's first: kept (without the bias, added once) and added there. The one-shot decode trims them at
        the end (trim_right_ratio 1.0), so the audio is the same."""
        conv = layer.conv
        stride = conv.stride[0]
        output = F.conv_transpose1d(hidden, conv.weight, None, stride)
        tail = self.states.get(id(layer))
        if tail is not None:
            output[..., :tail.shape[-1]] += tail
        emitted = hidden.shape[-1] * stride
        self.states[id(layer)] = output[..., emitted:]
        output = output[..., :emitted]
        return output if conv.bias is None else output + conv.bias[:, None]


def first_frames_needed(decoder) -> int:
    """Frames the first decode needs so that every causal convolution's reflect padding sees as many samples as it
    would in a one-shot decode of a longer stream (the padding reflects the first `padding_total` + 1 inputs)."""
    needed, upsampling = 1, 1

    def visit(layer):
        nonlocal needed, upsampling
        if isinstance(layer, EncodecConv1d):
            needed = max(needed, int(layer.padding_total) // upsampling + 1)
        elif isinstance(layer, EncodecConvTranspose1d):
            upsampling *= layer.conv.stride[0]
        elif isinstance(layer, EncodecResnetBlock):
            for sublayer in [*layer.block, layer.shortcut]:
                visit(sublayer)

    for layer in decoder.layers:
        visit(layer)
    return needed


__all__ = ["EncodecStreamDecoder", "first_frames_needed", "streams_exactly"]
