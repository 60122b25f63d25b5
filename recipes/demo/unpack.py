"""Undo `collect.py`: results.tar.gz and the weight files -> one folder per run with a loadable `model/`.

    python recipes/demo/unpack.py FILES_DIR DEST
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

from safetensors.torch import load_file, save_file


def main(argv: list[str]) -> None:
    files, dest = Path(argv[0]), Path(argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(files / "results.tar.gz") as archive:
        archive.extractall(dest, filter="data")
    runs = {path.name.split(".")[0] for path in files.glob("*.safetensors")}
    for run in sorted(runs):
        state = {}
        for part in sorted(files.glob(f"{run}.*.safetensors")):
            state.update(load_file(str(part)))
        state = {name: tensor.float() if tensor.is_floating_point() else tensor for name, tensor in state.items()}
        model_dir = dest / run / "model"
        if not (model_dir / "config.json").exists():  # weights from a checkpoint: the run's recorded config
            model_dir.mkdir(parents=True, exist_ok=True)
            (model_dir / "config.json").write_text((dest / run / "decoder_config.json").read_text())
        save_file(state, str(model_dir / "model.safetensors"), metadata={"format": "pt"})
        print(run, len(state), "tensors")


if __name__ == "__main__":
    main(sys.argv[1:])
