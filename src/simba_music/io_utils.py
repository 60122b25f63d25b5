"""Crash-safe writing: write to a temporary file or folder beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def give_default_permissions(path: str | os.PathLike) -> None:
    """The permissions a plain open() or mkdir() would have given `path` (and, for a folder, everything in it).

    mkstemp, mkdtemp and some writers (safetensors) create owner-only entries (0600/0700); a published output, or a
    model folder shipped as package data, should be readable like any other file."""
    umask = _umask()
    paths = [Path(path)]
    if Path(path).is_dir():
        paths += list(Path(path).rglob("*"))
    for entry in paths:
        os.chmod(entry, (0o777 if entry.is_dir() else 0o666) & ~umask)


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
        if os.path.exists(temporary):
            give_default_permissions(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike):
    """Yield a fresh temporary folder beside `target`; on success it takes `target`'s place (a previous folder is
    moved aside first and removed after), on error it is removed and the previous `target` is left intact."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"output path {str(target)!r} exists and is not a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield temporary
        give_default_permissions(temporary)
        if target.exists():
            previous = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.previous."))
            os.replace(target, previous / target.name)
            os.replace(temporary, target)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_wav(path: str | os.PathLike, audio, sampling_rate: int) -> None:
    """Write float audio [samples] or [samples, channels] as 16-bit PCM WAV, atomically."""
    import soundfile

    with atomic_path(path, suffix=".wav") as temporary:
        soundfile.write(str(temporary), audio, sampling_rate, subtype="PCM_16", format="WAV")
