"""Which codec made a dataset's codes, and which codec a decoder speaks: recorded, and compared before work.

Codes mean nothing without their codec: a decoder trained or evaluated on another codec's codes learns or scores
noise (evaluate on a mismatched dataset gave cross-entropy 7.25, worse than uniform, with no warning). So preprocess
records its codec (a name, for messages, and a SHA-256 of its stored weights, to compare) in the dataset's
summary.json, train and transfer-vocabulary record the codec in the decoder folders they write
(`simba-music-codec.json`), and every reader compares before any work. A dataset or a decoder without a record (made
before records existed) cannot be checked and is accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

MODEL_RECORD = "simba-music-codec.json"  # beside a decoder's config.json
DATASET_SUMMARY = "summary.json"  # a preprocess output's; its "codec" key


def codec_identity(codec_or_model, name: str | None = None) -> dict:
    """{"name", "sha256"} of a codec: an `AudioCodec`, a codec model, or a text-to-music model (its
    `audio_encoder`). The hash covers the stored (not the weight-norm-baked) tensors: names, shapes, dtypes, bytes."""
    model = getattr(codec_or_model, "model", codec_or_model)  # an AudioCodec wraps the codec model
    model = getattr(model, "audio_encoder", model)
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    label = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
    return {"name": os.path.basename(str(label).rstrip("/")) or str(label), "sha256": digest.hexdigest()}


def dataset_codec(dataset_dir: str | os.PathLike) -> dict | None:
    """The codec record preprocess left in `dataset_dir`, or None (an older dataset, or another tool's)."""
    try:
        record = json.loads((Path(dataset_dir) / DATASET_SUMMARY).read_text()).get("codec")
    except (OSError, ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) and "sha256" in record else None


def model_codec(model_dir: str | os.PathLike) -> dict | None:
    try:
        record = json.loads((Path(model_dir) / MODEL_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "sha256" in record else None


def write_model_codec(model_dir: str | os.PathLike, record: dict | None) -> None:
    if record is not None:
        (Path(model_dir) / MODEL_RECORD).write_text(json.dumps(record, indent=1) + "\n")


def check_codec_records(dataset_dir, dataset_record: dict | None, record: dict | None, what: str,
                        option: str = "--dataset") -> None:
    """Refuse a dataset whose codes come from another codec than `record`'s (`what` says whose, for the message)."""
    if dataset_record is None or record is None or dataset_record["sha256"] == record["sha256"]:
        return
    raise ValueError(f"{option}: {str(dataset_dir)!r} was encoded with the codec {dataset_record.get('name')!r} "
                     f"(weights {dataset_record['sha256'][:12]}), but {what} uses {record.get('name')!r} (weights "
                     f"{record['sha256'][:12]}); its codes would be read as another codec's. Preprocess the audio "
                     "again with that codec, or use a model of the dataset's codec")


def check_dataset_codec(dataset_dir: str | os.PathLike, codec_or_model, option: str = "--dataset") -> None:
    """Refuse `dataset_dir` unless preprocess encoded it with `codec_or_model`'s codec (an `AudioCodec`, a codec
    model, a text-to-music model, or a decoder folder holding a codec record). No record on either side: accepted."""
    if isinstance(codec_or_model, (str, os.PathLike)):
        record, what = model_codec(codec_or_model), f"the decoder in {str(codec_or_model)!r}"
    else:
        record, what = codec_identity(codec_or_model), "the model"
    check_codec_records(dataset_dir, dataset_codec(dataset_dir), record, what, option)


__all__ = ["MODEL_RECORD", "check_codec_records", "check_dataset_codec", "codec_identity", "dataset_codec",
           "model_codec", "write_model_codec"]
