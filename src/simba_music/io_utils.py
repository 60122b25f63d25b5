"""Crash-safe file writing: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path in the target's directory; on success it replaces `target` in one rename, on error it
    is removed and any previous `target` is left intact."""
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(f"output path {str(target)!r} is a directory; give a file name")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"output directory {str(directory)!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=suffix or target.suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_wav(path: str | os.PathLike, audio, sampling_rate: int) -> None:
    """Write float audio [samples] or [samples, channels] as 16-bit PCM WAV, atomically."""
    import soundfile

    with atomic_path(path, suffix=".wav") as temporary:
        soundfile.write(str(temporary), audio, sampling_rate, subtype="PCM_16", format="WAV")
