"""The manifest (jsonl, one clip per line) and the split-by-work rule.

Format, shared with preprocessing: ``audio`` is a path relative to the manifest's folder, ``caption`` the text;
every other field is metadata that is kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from simba_music.corpus.captions import stable_fraction
from simba_music.io_utils import atomic_path

SPLITS = ("train", "validation", "test")


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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Readers never see a half-written file: write a sibling temp file, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_manifest(path: str | os.PathLike, rows: list[dict]) -> None:
    for row in rows:
        if "audio" not in row or "caption" not in row:
            raise ValueError(f"rows: every row needs 'audio' and 'caption', got keys {sorted(row)}")
    text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    atomic_write_bytes(path, text.encode("utf-8"))


def read_manifest(path: str | os.PathLike, split: str | None = None) -> list[dict]:
    """Rows with ``audio`` resolved to an absolute path; optionally only one split."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "audio" not in row or "caption" not in row:
                raise ValueError(f"{path}:{line_number}: row lacks 'audio' or 'caption'")
            if split is not None and row.get("split") != split:
                continue
            row["audio"] = str((path.parent / row["audio"]).resolve())
            rows.append(row)
    return rows
