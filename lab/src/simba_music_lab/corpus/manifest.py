"""Writing the corpus manifest, and the split-by-work rule (the reader and the format are the library's:
`simba_music.training.manifest`)."""

from __future__ import annotations

import json
import os

from simba_music.captions.templates import stable_fraction
from simba_music.io_utils import atomic_write_bytes


def split_for_work(work_id: str, validation_fraction: float = 0.05, test_fraction: float = 0.05) -> str:
    """Every clip of a work gets the work's split: a hash of the work id, so clips of one chorale never leak."""
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if not 0 <= test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise ValueError(f"test_fraction must be in [0, 1 - validation_fraction), got {test_fraction}")
    value = stable_fraction("split:" + work_id)
    if value < test_fraction:
        return "test"
    if value < test_fraction + validation_fraction:
        return "validation"
    return "train"


def write_manifest(path: str | os.PathLike, rows: list[dict]) -> None:
    for row in rows:
        if "audio" not in row or "caption" not in row:
            raise ValueError(f"rows: every row needs 'audio' and 'caption', got keys {sorted(row)}")
    text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    atomic_write_bytes(path, text.encode("utf-8"))


__all__ = ["split_for_work", "write_manifest"]
