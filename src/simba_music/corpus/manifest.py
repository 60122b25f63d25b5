"""The manifest (jsonl, one clip per line; csv is read too) and the split-by-work rule; the one manifest reader.

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
# Split names as manifests spell them -> the dataset's split.
SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "val": "validation",
               "dev": "validation", "test": "test"}


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


def split_name(value, where: str) -> str:
    name = SPLIT_NAMES.get(value.strip().lower()) if isinstance(value, str) else None
    if name is None:
        raise ValueError(f"{where}: split {value!r} is not one of train, validation (or valid, val, dev), test")
    return name


def read_manifest(path: str | os.PathLike, split: str | None = None) -> list[dict]:
    """The rows of a jsonl or csv manifest, ``audio`` resolved to an absolute path, split names normalised; optionally
    only one split. A bad row is refused with its line number and field."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    manifest = Path(path)
    if not manifest.is_file():
        raise FileNotFoundError(f"manifest: no such file {path!r}")
    if manifest.suffix == ".jsonl":
        numbered = []
        for number, line in enumerate(manifest.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as error:
                raise ValueError(f"manifest {path}, line {number}: not valid JSON ({error})") from None
            if not isinstance(row, dict):
                raise ValueError(f"manifest {path}, line {number}: expected a JSON object, got {line[:40]!r}")
            numbered.append((number, row))
    elif manifest.suffix == ".csv":
        import csv

        with open(manifest, newline="") as handle:
            numbered = list(enumerate(csv.DictReader(handle), start=2))  # line 1 is the header
    else:
        raise ValueError(f"manifest: expected a .jsonl or .csv file, got {manifest.name!r}")
    if not numbered:
        raise ValueError(f"manifest {path}: no rows")
    rows = []
    for number, row in numbered:
        where = f"manifest {path}, line {number}"
        if "audio" not in row or "caption" not in row:
            raise ValueError(f"{where}: every row needs 'audio' and 'caption', got keys {sorted(row)}")
        for field in ("audio", "caption"):
            if not isinstance(row[field], str) or not row[field].strip():
                raise ValueError(f"{where}: '{field}' must be a non-empty string, got {row[field]!r}")
        row["audio"] = str((manifest.parent / row["audio"]).resolve())
        if "split" in row:
            row["split"] = split_name(row["split"], where)
        rows.append(row)
    if len({"split" in row for row in rows}) > 1:
        number = next(n for n, row in numbered if "split" not in row)
        raise ValueError(f"manifest {path}, line {number}: no 'split' while other rows have one")
    return rows if split is None else [row for row in rows if row.get("split") == split]
