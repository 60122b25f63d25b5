"""Positional encoding and the multi-codebook delay pattern."""

from __future__ import annotations

import torch


def sinusoidal_positions(positions: torch.Tensor, dim: int, max_period: float = 10000.0,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Audiocraft-style sinusoids, as in the original SSM-TTM: `phase = pos / max_period ** (i / (half - 1))`,
    `cat([cos(phase), sin(phase)])`. `positions`: [L] -> [L, dim], computed in float32 (float64 for float64)."""
    compute = torch.promote_types(dtype, torch.float32)
    half = dim // 2
    exponent = torch.arange(half, device=positions.device, dtype=compute) / max(half - 1, 1)
    phase = positions.to(compute)[:, None] / (max_period ** exponent)[None, :]
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


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
