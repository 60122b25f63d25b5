"""Rebuild a `simba-music preprocess`-style dataset (codes + caption + work_id per split) from `pack.py`'s npz.

    python recipes/demo/build_dataset.py PACK_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> None:
    from datasets import Dataset, DatasetDict, Features, Sequence, Value

    pack, out = Path(argv[0]), argv[1]
    arrays = np.load(pack / "tokens.npz")
    captions = json.loads((pack / "captions.json").read_text())
    features = Features({"codes": Sequence(Value("int16")), "caption": Value("string"), "work_id": Value("string")})
    splits = {}
    for name in ("train", "validation", "test"):
        if f"{name}_codes" not in arrays:
            continue
        splits[name] = Dataset.from_dict({"codes": arrays[f"{name}_codes"].tolist(),
                                          "caption": [captions[i] for i in arrays[f"{name}_caption"]],
                                          "work_id": arrays[f"{name}_work"].tolist()}, features=features)
    DatasetDict(splits).save_to_disk(out)
    print(json.dumps({name: len(rows) for name, rows in splits.items()}))


if __name__ == "__main__":
    main(sys.argv[1:])
