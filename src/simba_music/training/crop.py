"""Random windows of the training clips (`simba-music train --crop-seconds S`).

Each training row is cut to a window of S seconds that starts anywhere in its clip: the decoder sees every part of a
clip begin cold after the start token (as a generation begins), segment boundaries move every epoch, and a step costs
less in proportion to the window (the demo's: 0.8 s for 2 s windows against 6 s for its whole 10 s clips). Whether a
larger share of cold frames makes a decoder read the caption's key is measured in the CHANGELOG ("Why the decoder does
not learn the key"): on the demo it did not.

The window's start is a hash of (seed, epoch, the row's codes), not a random generator: an interrupted run that
resumes mid-epoch crops the remaining rows exactly as the uninterrupted run would have, and a row needs no metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..captions.templates import stable_fraction
from .codec_record import DATASET_SUMMARY


class RandomCrop:
    """Each training row's codes ([T] or [K, T]) cut to a window of at most `frames` frames, its start drawn uniformly
    from every start that fits; `epoch` is set by the training loop before each epoch."""

    def __init__(self, frames: int, seed: int = 0):
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.frames, self.seed, self.epoch = frames, seed, 0

    def __call__(self, codes: torch.Tensor) -> torch.Tensor:
        length = codes.shape[-1]
        if length <= self.frames:
            return codes
        row = hashlib.sha256(codes.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
        start = int(stable_fraction(f"crop:{self.seed}:{self.epoch}:{row}") * (length - self.frames + 1))
        return codes[..., start:start + self.frames]


def crop_frames(seconds: float, dataset_dir: str | Path) -> int:
    """`--crop-seconds` in frames of the codec that encoded `dataset_dir` (its summary's frame rate), at least one."""
    try:
        frame_rate = float(json.loads((Path(dataset_dir) / DATASET_SUMMARY).read_text())["frame_rate"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--crop-seconds: the dataset {str(dataset_dir)!r} records no frame rate in its "
                         f"{DATASET_SUMMARY} (a `simba-music preprocess` output does), so seconds cannot be turned "
                         "into frames") from error
    return max(1, round(seconds * frame_rate))


__all__ = ["RandomCrop", "crop_frames"]
