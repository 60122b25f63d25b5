"""Crash-safe training checkpoints, shared by decoder training (`simba-music train`) and codec training
(`simba-music-lab codec train`), and crash-safe exports of a Hub-format model folder.

A run keeps its checkpoints in ``OUTPUT_DIR/checkpoints/step-{step}/`` (Accelerate's ``save_state`` plus the
trainer's own state file). A checkpoint folder only appears under its final name once it is complete (written to a
temporary folder, then renamed), so a resume never picks up a half-written state after a kill. Codec runs made before
the two trainers shared this module named their checkpoints ``step_{step:08d}``; those are still found and resumed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from ..io_utils import atomic_directory

CHECKPOINTS = "checkpoints"  # the sub-folder of a run's output_dir
_STEP_DIR = re.compile(r"^step-(\d+)$|^step_(\d{8})$")  # the second: codec runs of earlier versions
TRAINER_STATE = "trainer_state.json"


def checkpoint_dirs(directory: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in a `checkpoints` folder, oldest first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = []
    for name in os.listdir(folder):
        match = _STEP_DIR.match(name)
        if match:
            found.append((int(match.group(1) or match.group(2)), folder / name))
    return [path for _, path in sorted(found)]


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    found = checkpoint_dirs(directory)
    return found[-1] if found else None


def save_checkpoint(accelerator, directory: str | os.PathLike, step: int, write_state: Callable[[Path], None],
                    keep: int) -> Path:
    """Save Accelerate's state plus the trainer's (`write_state(folder)`, main process) as `directory/step-{step}`,
    atomically, then keep only the newest `keep` checkpoints (all when `keep` <= 0)."""
    directory = Path(directory)
    final = directory / f"step-{step}"
    # A name of this process's own (every rank writes into the main process's folder): two runs that were ever
    # started on one folder could not share a temporary folder even without the run lock.
    name = [f".tmp-step-{step}-{os.getpid()}"]
    if getattr(accelerator, "num_processes", 1) > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(name)
    temporary = directory / name[0]
    if accelerator.is_main_process:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(temporary, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_state(temporary)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)  # a checkpoint either exists whole or not at all
        for old in checkpoint_dirs(directory)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def write_trainer_state(trainer_state: dict) -> Callable[[Path], None]:
    """A `write_state` for `save_checkpoint` that stores a JSON dict as `trainer_state.json`."""
    return lambda folder: (folder / TRAINER_STATE).write_text(json.dumps(trainer_state, indent=2))


def load_trainer_state(checkpoint: str | os.PathLike) -> dict:
    return json.loads((Path(checkpoint) / TRAINER_STATE).read_text())


def export_model_atomically(model, destination: str | os.PathLike, writer: str,
                            extra_files: dict[str, str] | None = None, overwrite: bool = False) -> None:
    """``save_pretrained`` (safetensors) into a temp folder, then swap it in place of ``destination`` (an earlier
    export by `writer`, or a new or empty folder, unless ``overwrite``)."""
    with atomic_directory(destination, writer, overwrite) as temporary:
        model.save_pretrained(str(temporary), safe_serialization=True)
        for name, text in (extra_files or {}).items():
            (temporary / name).write_text(text)
