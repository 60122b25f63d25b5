"""Streaming audio out of `generate()`: codes arrive one frame at a time, audio leaves in chunks.

A codec decoder is not frame-local: a non-causal convolution looks a few frames ahead, and EnCodec's LSTM and every
convolution look back. So each chunk is decoded from a window that starts `left_context_frames` before it (their audio
is thrown away) and is only emitted once `lookahead_frames` later frames exist. With enough context on both sides the
concatenated chunks equal the one-shot decode to within float noise; memory stays bounded because only that window of
codes is kept.
"""

from __future__ import annotations

import math
import queue

import torch
from transformers.generation.streamers import BaseStreamer


class CallbackAudioStreamer(BaseStreamer):
    """Calls `callback(chunk)` with each audio chunk [batch, channels, samples] as it is produced."""

    def __init__(self, callback):
        if not callable(callback):
            raise TypeError(f"callback: must be callable, got {type(callback).__name__}")
        self.callback = callback

    def put(self, value: torch.Tensor) -> None:
        self.callback(value)

    def end(self) -> None:
        pass


class AudioIteratorStreamer(BaseStreamer):
    """Iterate over audio chunks while `generate()` runs in another thread (as transformers' TextIteratorStreamer)."""

    _stop = object()

    def __init__(self, timeout: float | None = None):
        self.queue = queue.Queue()
        self.timeout = timeout

    def put(self, value: torch.Tensor) -> None:
        self.queue.put(value)

    def end(self) -> None:
        self.queue.put(self._stop)

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        value = self.queue.get(timeout=self.timeout)
        if value is self._stop:
            raise StopIteration
        return value


class ChunkedAudioDecoder:
    """Accumulates generated codes and sends decoded audio chunks to `streamer.put`; `finish()` flushes the tail
    and calls `streamer.end()`."""

    def __init__(self, codec, streamer, chunk_frames: int | None = None, left_context_frames: int | None = None,
                 lookahead_frames: int | None = None):
        rate = codec.frame_rate
        self.codec = codec
        self.streamer = streamer
        self.chunk_frames = chunk_frames or max(1, math.ceil(rate))
        # A codec whose decode carries state (the pitch codec's phase vocoder) decodes each frame once, in order.
        self.incremental = (codec.incremental_decoder(self.chunk_frames) if hasattr(codec, "incremental_decoder")
                            else None)
        self.left_context_frames = math.ceil(rate) if left_context_frames is None else left_context_frames
        self.lookahead_frames = max(4, math.ceil(0.1 * rate)) if lookahead_frames is None else lookahead_frames
        for name in ("chunk_frames", "left_context_frames", "lookahead_frames"):
            if getattr(self, name) < (1 if name == "chunk_frames" else 0):
                raise ValueError(f"{name}: must be {'>= 1' if name == 'chunk_frames' else '>= 0'}, "
                                 f"got {getattr(self, name)}")
        self.buffer: torch.Tensor | None = None  # [B, K, n] codes of frames buffer_start .. buffer_start + n
        self.buffer_start = 0
        self.emitted = 0  # frames whose audio has been sent

    @property
    def available(self) -> int:
        return self.buffer_start + (0 if self.buffer is None else self.buffer.shape[-1])

    def push(self, codes: torch.Tensor) -> None:
        """Add frames [B, K, n] (n >= 1) in order."""
        if self.incremental is not None:
            self._put(self.incremental.push(codes))
            return
        self.buffer = codes if self.buffer is None else torch.cat([self.buffer, codes], dim=-1)
        if self.available - self.lookahead_frames - self.emitted >= self.chunk_frames:
            self._emit(self.available - self.lookahead_frames)

    def _put(self, audio: torch.Tensor) -> None:
        if audio.shape[-1]:
            self.streamer.put(audio)

    def finish(self) -> None:
        if self.incremental is not None:
            self._put(self.incremental.finish())
            self.streamer.end()
            return
        if self.emitted < self.available:
            self._emit(self.available)
        self.streamer.end()

    def _emit(self, end: int) -> None:
        start = max(self.buffer_start, self.emitted - self.left_context_frames)
        window = self.buffer[..., start - self.buffer_start:]  # includes the lookahead frames after `end`
        hop = self.codec.hop_length
        audio = self.codec.decode(window)[..., (self.emitted - start) * hop:(end - start) * hop]
        self.streamer.put(audio)
        self.emitted = end
        # Keep only what the next window can reach back to.
        keep_from = max(self.buffer_start, end - self.left_context_frames)
        self.buffer = self.buffer[..., keep_from - self.buffer_start:]
        self.buffer_start = keep_from


__all__ = ["AudioIteratorStreamer", "CallbackAudioStreamer", "ChunkedAudioDecoder"]
