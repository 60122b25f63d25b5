"""Loading a preprocessed training set: a `datasets.DatasetDict` saved to disk by `simba-music preprocess`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

EMPTY_TEXT_STATES_FILE = "empty_text_states.safetensors"


@dataclass
class TrainingData:
    train: object
    validation: object | None
    empty_text_states: torch.Tensor | None  # the text encoder's output for "", when states are cached

    @property
    def needs_text_encoder(self) -> bool:
        return "text_states" not in self.train.column_names


def load_training_data(path: str) -> TrainingData:
    from datasets import load_from_disk
    from safetensors.torch import load_file

    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"dataset: no such directory {path!r} (expected a `simba-music preprocess` output)")
    splits = load_from_disk(str(directory))
    if "train" not in splits:
        raise ValueError(f"dataset {path!r} has no 'train' split (found {list(splits)})")
    if "codes" not in splits["train"].column_names:
        raise ValueError(f"dataset {path!r}: the train split has no 'codes' column")
    columns = [c for c in ("codes", "text_states") if c in splits["train"].column_names]
    formatted = {name: split.with_format("torch", columns=columns, output_all_columns=True)
                 for name, split in splits.items()}
    empty_file = directory / EMPTY_TEXT_STATES_FILE
    empty = load_file(str(empty_file))["empty_text_states"] if empty_file.exists() else None
    validation = formatted.get("validation")
    return TrainingData(formatted["train"], validation, empty)
