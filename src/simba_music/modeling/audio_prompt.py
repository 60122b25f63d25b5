"""Checking and conforming a user's audio prompt (for continuation) to the codec's rate and channel count.

A wrong sampling rate is resampled with a warning (polyphase, `scipy.signal.resample_poly`) rather than refused:
a 48 kHz WAV dropped onto a 32 kHz model is the common case and there is one obviously right thing to do. Bad shapes,
NaN/inf and channel counts other than mono/stereo are refused with a ValueError.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

SUPPORTED_PROMPT_CHANNELS = (1, 2)


def prepare_audio_prompt(audio, sampling_rate: int | None, target_rate: int, target_channels: int,
                         batch_size: int, max_seconds: float | None = None) -> torch.Tensor:
    """Return a float32 tensor [batch_size, target_channels, samples] from `audio` given as [samples] (mono),
    [channels, samples] or [batch, channels, samples] (tensor or array), at `target_rate`. A prompt longer than
    `max_seconds` is refused before any copy or encoding (a 10-hour file would otherwise exhaust memory)."""
    if isinstance(audio, np.ndarray):
        audio = torch.from_numpy(audio)
    if not isinstance(audio, torch.Tensor):
        raise TypeError(f"audio_prompt: must be a torch.Tensor or numpy array, got {type(audio).__name__}")
    if not audio.is_floating_point():
        raise TypeError(f"audio_prompt: must hold float samples in [-1, 1], got dtype {audio.dtype}")
    if audio.dim() not in (1, 2, 3):
        raise ValueError(f"audio_prompt: rank must be 1 [samples], 2 [channels, samples] or 3 [batch, channels, "
                         f"samples], got rank {audio.dim()} with shape {list(audio.shape)}")
    audio = audio.detach().float().cpu()
    while audio.dim() < 3:
        audio = audio.unsqueeze(0)
    if audio.shape[-1] == 0:
        raise ValueError("audio_prompt: has no samples")
    if max_seconds is not None:
        seconds = audio.shape[-1] / float(sampling_rate or target_rate)
        if seconds > max_seconds:
            raise ValueError(f"audio_prompt: at most {max_seconds:g} s, got {seconds:.1f} s")
    if not torch.isfinite(audio).all():
        raise ValueError("audio_prompt: contains NaN or infinite values")
    channels = audio.shape[1]
    if channels not in SUPPORTED_PROMPT_CHANNELS:
        raise ValueError(f"audio_prompt: channel count must be one of {list(SUPPORTED_PROMPT_CHANNELS)}, got "
                         f"{channels} (shape {list(audio.shape)}; put channels before samples)")
    if audio.shape[0] not in (1, batch_size):
        raise ValueError(f"audio_prompt: batch dimension must be 1 or the number of prompts ({batch_size}), "
                         f"got {audio.shape[0]}")
    if channels != target_channels:
        # Mono <-> stereo is unambiguous: average to downmix, duplicate to upmix.
        audio = audio.mean(1, keepdim=True) if target_channels == 1 else audio.expand(-1, target_channels, -1)
    if sampling_rate is not None and int(sampling_rate) != int(target_rate):
        if sampling_rate <= 0:
            raise ValueError(f"audio_prompt_sampling_rate: must be > 0 Hz, got {sampling_rate}")
        warnings.warn(f"audio_prompt: resampling from {sampling_rate} Hz to the codec's {target_rate} Hz "
                      "(scipy.signal.resample_poly)", stacklevel=3)
        audio = resample(audio, int(sampling_rate), int(target_rate))
    return audio.expand(batch_size, -1, -1).contiguous()


def resample(audio, source_rate: int, target_rate: int):
    """Polyphase resampling along the last axis: the one resampler of the package (`simba_music.audio` re-exports
    it). A tensor comes back as a float32 tensor; a numpy array as an array of its own float dtype."""
    from scipy.signal import resample_poly

    divisor = math.gcd(int(source_rate), int(target_rate))
    is_tensor = isinstance(audio, torch.Tensor)
    out = resample_poly(audio.numpy() if is_tensor else audio, target_rate // divisor, source_rate // divisor, axis=-1)
    if not is_tensor:
        return out
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


__all__ = ["SUPPORTED_PROMPT_CHANNELS", "prepare_audio_prompt", "resample"]
