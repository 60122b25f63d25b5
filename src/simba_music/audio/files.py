"""Audio files: reading a sound file for analysis, writing a WAV (whole, or streamed to disk while generating) and a
spectrogram PNG; every write is atomic."""

from __future__ import annotations

import os

import numpy as np
from transformers.generation.streamers import BaseStreamer

from ..io_utils import atomic_path, audio_format, check_writable_file
from .resample import conform


def load_audio(path: str | os.PathLike, target_rate: int) -> np.ndarray:
    """A sound file as mono float64 at `target_rate`."""
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    return conform(audio.mean(axis=1), rate, target_rate)


SPECTROGRAM_SUFFIXES = (".png",)


def write_wav(path: str | os.PathLike, audio, sampling_rate: int, overwrite: bool = False) -> None:
    """Write float audio [samples] or [samples, channels] atomically, in the format its extension names (.wav or
    none: 16-bit PCM WAV; .flac, .ogg); an existing file that simba-music did not write is kept unless `overwrite`
    (`check_writable_file`)."""
    import soundfile

    sound_format, subtype = audio_format(path, "path")
    check_writable_file(path, "path", overwrite)
    with atomic_path(path, suffix=f".{sound_format.lower()}") as temporary:
        soundfile.write(str(temporary), audio, sampling_rate, subtype=subtype, format=sound_format)


class WavFileStreamer(BaseStreamer):
    """Receives audio chunks [1, channels, samples] from `generate(streamer=...)` and appends them to an open
    16-bit WAV. Memory stays flat however long the piece is."""

    def __init__(self, sound_file):
        self.sound_file = sound_file
        self.frames = 0

    def put(self, value) -> None:
        if value.shape[0] != 1:
            raise ValueError(f"WavFileStreamer: expected one audio row, got a batch of {value.shape[0]}")
        samples = value[0].T.float().cpu().numpy()  # [samples, channels]
        self.sound_file.write(np.clip(samples, -1.0, 1.0))
        self.frames += samples.shape[0]

    def end(self) -> None:
        pass


def pcm16_bytes(audio) -> bytes:
    """Float audio [channels, samples] -> interleaved 16-bit little-endian PCM (clipped to [-1, 1], scaled by 32767
    as libsndfile writes PCM_16)."""
    samples = np.clip(np.asarray(audio, dtype=np.float32).T, -1.0, 1.0)
    return np.round(samples * 32767.0).astype("<i2").tobytes()


def open_length_wav_header(sampling_rate: int, channels: int) -> bytes:
    """A 16-bit PCM WAV header whose sizes say "unknown" (0xFFFFFFFF), for a stream written to a pipe that cannot
    seek back to fill them in; ffplay, aplay and sox read such a stream until it ends."""
    import struct

    unknown = 0xFFFFFFFF
    block_align = 2 * channels
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sampling_rate, sampling_rate * block_align,
                                    block_align, 16)
            + b"data" + struct.pack("<I", unknown))


def write_spectrogram(path: str | os.PathLike, audio: np.ndarray, sampling_rate: int, title: str = "",
                      overwrite: bool = False) -> None:
    """Log-magnitude spectrogram of mono or [samples, channels] audio (channels averaged) as a PNG, atomically; the
    path must end in .png, and an existing file that simba-music did not write is kept unless `overwrite`."""
    check_writable_file(path, "--spectrogram", overwrite, SPECTROGRAM_SUFFIXES)
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot
    import matplotlib.pyplot as plt

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    figure, axes = plt.subplots(figsize=(10, 4))
    try:
        axes.specgram(mono, Fs=sampling_rate, NFFT=1024, noverlap=768, cmap="magma")
        axes.set(xlabel="time (s)", ylabel="frequency (Hz)", title=title)
        figure.tight_layout()
        with atomic_path(path, suffix=".png") as temporary:
            figure.savefig(temporary, format="png", dpi=100)
    finally:
        plt.close(figure)


__all__ = ["SPECTROGRAM_SUFFIXES", "WavFileStreamer", "load_audio", "open_length_wav_header", "pcm16_bytes",
           "write_spectrogram", "write_wav"]
