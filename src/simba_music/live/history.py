"""The recent columns of a live stream's delayed code grid, in a fixed-size ring: what a joining prompt's row is
primed with, and where complete frames are read from. Its size never changes, however long the stream plays."""

from __future__ import annotations

import torch

from ..modeling.delay_pattern import undo_delay_pattern


class CodeWindow:
    """The last `capacity` columns [1, K, capacity] of the delayed grid (MusicGen's delay pattern: codebook k of
    frame f sits in column f + k)."""

    def __init__(self, num_codebooks: int, capacity: int, device):
        if capacity < num_codebooks:
            raise ValueError(f"capacity: must be >= num_codebooks={num_codebooks} (a frame spans that many "
                             f"columns), got {capacity}")
        self.ring = torch.zeros((1, num_codebooks, capacity), dtype=torch.long, device=device)
        self.columns_seen = 0

    @property
    def capacity(self) -> int:
        return self.ring.shape[-1]

    def append(self, column: torch.Tensor) -> None:
        """Add one column [1, K, 1]."""
        self.ring[..., self.columns_seen % self.capacity] = column[..., 0]
        self.columns_seen += 1

    def recent(self, count: int | None = None) -> torch.Tensor:
        """The last `count` columns (default: all kept), oldest first: [1, K, n] with n <= capacity."""
        kept = min(self.columns_seen, self.capacity)
        count = kept if count is None else min(count, kept)
        end = self.columns_seen % self.capacity
        ordered = torch.cat([self.ring[..., end:], self.ring[..., :end]], dim=-1) if kept == self.capacity \
            else self.ring[..., :kept]
        return ordered[..., kept - count:]

    def latest_frame(self) -> torch.Tensor | None:
        """Codes [1, K, 1] of the newest frame whose codebooks are all known, or None before the first one."""
        num_codebooks = self.ring.shape[1]
        if self.columns_seen < num_codebooks:
            return None
        return undo_delay_pattern(self.recent(num_codebooks), 1)


__all__ = ["CodeWindow"]
