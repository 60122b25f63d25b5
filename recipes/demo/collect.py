"""Pack what `compare.py` produced into at most 8 files of at most 16 MiB each (a lent machine's return limits).

    python recipes/demo/collect.py WORK OUT [--full-precision prefix_simba]

- `results.tar.gz`: comparison.json, and per run metrics.jsonl, decoder_config.json, training_curve.png, the log;
- `<run>.partN.safetensors`: the final weights of each `--full-precision` run in float32, split into parts;
- `<run>.fp16.safetensors`: the other runs' final weights in float16 (enough to re-measure them).
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

PART_BYTES = 15 * 2**20


def split_state(state: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    parts, current, size = [], {}, 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > PART_BYTES:
            parts.append(current)
            current, size = {}, 0
        current[name] = tensor.contiguous()
        size += nbytes
    return parts + [current] if current else parts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work")
    parser.add_argument("out")
    parser.add_argument("--full-precision", nargs="*", default=["prefix_simba"])
    args = parser.parse_args()
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "results.tar.gz", "w:gz") as archive:
        for path in sorted(work.rglob("*")):
            relative = path.relative_to(work)
            if "checkpoints" in relative.parts or path.suffix == ".safetensors" or path.is_dir():
                continue
            archive.add(path, arcname=str(relative))
    for run_dir in sorted(p for p in work.iterdir() if p.is_dir() and not p.name.startswith("probe-")):
        run, weights = run_dir.name, run_dir / "model" / "model.safetensors"
        if not weights.exists():  # stopped at the deadline: its newest checkpoint
            steps = sorted(run_dir.glob("checkpoints/step-*/model.safetensors"),
                           key=lambda p: int(p.parent.name.split("-")[1]))
            if not steps:
                continue
            weights = steps[-1]
            print(f"{run}: no final model, using {weights.parent.name}")
        state = load_file(str(weights))
        if run in args.full_precision:
            for index, part in enumerate(split_state(state)):
                save_file(part, str(out / f"{run}.part{index}.safetensors"))
        else:
            save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()},
                      str(out / f"{run}.fp16.safetensors"))
    for path in sorted(out.iterdir()):
        print(f"{path.name}\t{path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
