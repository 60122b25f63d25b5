"""The manifest a decoder is trained from: jsonl (one clip per line) or csv; the one manifest reader.

Format: ``audio`` is a path relative to the manifest's folder, ``caption`` the text, ``split`` (optional) one of
train, validation, test; every other field is metadata that is kept (re-captioning reads it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SPLITS = ("train", "validation", "test")
# Split names as manifests spell them -> the dataset's split.
SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "val": "validation",
               "dev": "validation", "test": "test"}


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
