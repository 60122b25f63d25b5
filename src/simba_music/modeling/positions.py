"""Sinusoidal positional encoding (the delay pattern lives in delay_pattern.py)."""

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
