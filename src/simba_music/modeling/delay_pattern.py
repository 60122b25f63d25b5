"""MusicGen's multi-codebook delay pattern: codebook k is shifted right by k steps, so that one decoding step predicts
codebook k of frame t - k for every k."""

from __future__ import annotations

import torch


def apply_delay_pattern(codes: torch.Tensor, special_token_id: int) -> torch.Tensor:
    """MusicGen's delay pattern: codebook k is shifted right by k steps. [B, K, T] -> [B, K, T + K - 1], the gaps
    filled with the special id."""
    batch, num_codebooks, length = codes.shape
    delayed = codes.new_full((batch, num_codebooks, length + num_codebooks - 1), special_token_id)
    for k in range(num_codebooks):
        delayed[:, k, k:k + length] = codes[:, k]
    return delayed


def undo_delay_pattern(delayed: torch.Tensor, length: int) -> torch.Tensor:
    """Inverse of `apply_delay_pattern` over the trailing axes: [B, K, T + K - 1, ...] -> [B, K, T, ...]."""
    return torch.stack([delayed[:, k, k:k + length] for k in range(delayed.shape[1])], dim=1)
