"""Crash-safe training checkpoints (Accelerate state) and crash-safe exports of the Hub-format model folder.

A checkpoint folder only appears under its final name once it is complete (written to a temp folder, then
renamed), so ``--resume`` never picks up a half-written state after a kill.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..io_utils import atomic_directory

_STEP_DIR = re.compile(r"^step_(\d{8})$")
TRAINER_STATE = "trainer_state.json"


def checkpoint_dirs(run_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), folder / name) for name in os.listdir(folder) if (m := _STEP_DIR.match(name))]
    return [path for _, path in sorted(found) if (path / TRAINER_STATE).is_file()]


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    found = checkpoint_dirs(run_dir)
    return found[-1] if found else None


def save_checkpoint(accelerator, run_dir: str | os.PathLike, step: int, trainer_state: dict, keep: int = 3) -> Path:
    folder = Path(run_dir) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step_{step:08d}"
    if accelerator.is_main_process:
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".step_{step:08d}."))
    else:
        tmp = folder / f".step_{step:08d}.other"
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        (tmp / TRAINER_STATE).write_text(json.dumps(trainer_state, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in checkpoint_dirs(run_dir)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_trainer_state(checkpoint: str | os.PathLike) -> dict:
    return json.loads((Path(checkpoint) / TRAINER_STATE).read_text())


def export_model_atomically(model, destination: str | os.PathLike, extra_files: dict[str, str] | None = None,
                            overwrite: bool = False) -> None:
    """``save_pretrained`` (safetensors) into a temp folder, then swap it in place of ``destination`` (an earlier
    export, or a new or empty folder, unless ``overwrite``)."""
    with atomic_directory(destination, "simba-music codec", overwrite) as temporary:
        model.save_pretrained(str(temporary), safe_serialization=True)
        for name, text in (extra_files or {}).items():
            (temporary / name).write_text(text)
