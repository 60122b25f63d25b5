"""Crash-safe writing: write to a temporary file or folder beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import json
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


def _temporary_beside(target: Path, suffix: str) -> str:
    """A new empty temporary file in `target`'s folder (where a rename onto `target` is atomic)."""
    if target.is_dir():
        raise IsADirectoryError(f"output path {str(target)!r} is a directory; give a file name")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"output directory {str(directory)!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=suffix)
    os.close(handle)
    return temporary


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path in the target's directory; on success it replaces `target` in one rename, on error it
    is removed and any previous `target` is left intact."""
    target = Path(target)
    temporary = _temporary_beside(target, suffix or target.suffix)
    try:
        yield Path(temporary)
        if os.path.exists(temporary):
            give_default_permissions(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


# Every folder a simba-music writer makes holds this file; a writer replaces or writes into only such folders (or
# empty ones), so that an --output-dir pointing at the user's own files can never delete them.
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Readers never see a half-written file: write a sibling temp file, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)



OUTPUT_MARKER = "simba-music-output.json"


def _marker(directory: Path) -> dict | None:
    try:
        return json.loads((directory / OUTPUT_MARKER).read_text())
    except (OSError, ValueError):
        return None


def is_own_output(directory: str | os.PathLike) -> bool:
    """True for a missing or empty folder, or one holding the marker a simba-music writer left."""
    directory = Path(directory)
    if not directory.exists():
        return True
    return directory.is_dir() and (not any(directory.iterdir()) or _marker(directory) is not None)


def read_output_marker(directory: str | os.PathLike) -> dict | None:
    """What the writer recorded in `directory`'s marker (its name and the run's identity), or None."""
    return _marker(Path(directory))


def write_output_marker(directory: str | os.PathLike, writer: str, **identity) -> None:
    directory = Path(directory)
    with atomic_path(directory / OUTPUT_MARKER) as temporary:
        temporary.write_text(json.dumps({"writer": writer, **identity}, indent=1, sort_keys=True) + "\n")


def check_output_directory(path: str | os.PathLike, option: str, overwrite: bool = False,
                           inputs: tuple = ()) -> Path:
    """Refuse, before any work, an output folder that (a) holds or equals one of `inputs` or lies inside an input
    folder, whatever `overwrite` says, (b) is a file, or (c) holds files no simba-music writer made, unless
    `overwrite`. `option` names the flag in the message (--output-dir, --output)."""
    target = Path(path)
    resolved = target.resolve()
    for source in inputs:
        if source is None or not Path(source).exists():
            continue  # a Hub id, or a missing path that its own check reports
        source_path = Path(source).resolve()
        if source_path == resolved or source_path.is_relative_to(resolved) or (
                source_path.is_dir() and resolved.is_relative_to(source_path)):
            raise ValueError(f"{option}: {str(path)!r} would hold, replace or sit inside the input {str(source)!r}; "
                             "choose a folder outside the inputs")
    if target.exists() and not target.is_dir():
        raise ValueError(f"{option}: {str(path)!r} exists and is not a folder")
    if not overwrite and not is_own_output(target):
        raise ValueError(f"{option}: {str(path)!r} already holds files that simba-music did not write (no "
                         f"{OUTPUT_MARKER}); choose a new or empty folder, or pass --overwrite to replace it")
    return target


def claim_output_directory(path: str | os.PathLike, option: str, writer: str, overwrite: bool = False,
                           inputs: tuple = (), **identity) -> Path:
    """`check_output_directory`, then create the folder and mark it as `writer`'s (for writers that add files to
    the folder rather than replacing it whole)."""
    target = check_output_directory(path, option, overwrite, inputs)
    target.mkdir(parents=True, exist_ok=True)
    write_output_marker(target, writer, **identity)
    return target


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, writer: str = "simba-music", overwrite: bool = False):
    """Yield a fresh temporary folder beside `target`; on success it takes `target`'s place (a previous folder is
    moved aside first and removed after), on error it is removed and the previous `target` is left intact.

    The new folder is marked as `writer`'s output. A previous `target` holding anything a simba-music writer did not
    make is refused (before and after the work) unless `overwrite`."""
    target = Path(target)
    check_output_directory(target, "output", overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield temporary
        write_output_marker(temporary, writer)
        give_default_permissions(temporary)
        if target.exists():
            check_output_directory(target, "output", overwrite)  # it may have changed during the work
            previous = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.previous."))
            os.replace(target, previous / target.name)
            os.replace(temporary, target)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


# What `write_audio` and `simba-music generate` write, by file extension (no extension: WAV).
AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
                 "": ("WAV", "PCM_16")}


def audio_format(path: str | os.PathLike, option: str = "output") -> tuple[str, str]:
    """soundfile's (format, subtype) for the extension of `path`; an extension it cannot write is refused by name,
    so that `song.mp3` never holds WAV bytes."""
    suffix = Path(path).suffix.lower()
    if suffix not in AUDIO_FORMATS:
        raise ValueError(f"{option}: cannot write {suffix!r} files ({str(path)!r}); use .wav, .flac or .ogg")
    return AUDIO_FORMATS[suffix]


def check_writable_file(path: str | os.PathLike, option: str) -> Path:
    """Refuse, before any work, a file path that is a folder, lies in a missing folder, or cannot be created there
    (a read-only or virtual file system such as /proc): tried by creating and removing a temporary file."""
    target = Path(path)
    try:
        os.remove(_temporary_beside(target, ".probe"))
    except IsADirectoryError:
        raise ValueError(f"{option}: {str(path)!r} is a directory; give a file name") from None
    except OSError as error:
        if not (target.parent if str(target.parent) else Path(".")).is_dir():
            raise ValueError(f"{option}: directory of {str(path)!r} does not exist") from None
        raise ValueError(f"{option}: cannot write in the folder of {str(path)!r} ({error.strerror or error})") from None
    return target


class Terminated(SystemExit):
    """SIGTERM, raised as an exception so that `finally` blocks (temporary files) run as they do on Ctrl-C."""


@contextlib.contextmanager
def terminate_as_exception(signal_names: tuple[str, ...] = ("SIGTERM",)):
    """Within the block, SIGTERM (plain `kill`; and the other `signal_names`, e.g. SIGHUP when the terminal closes)
    raises `Terminated` (exit status 128 + the signal's number, 143 for SIGTERM) instead of killing the process
    outright, so atomic writers remove their temporary files and open files are closed properly. Outside the main
    thread it does nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(128 + signum)

    numbers = [getattr(signal, name) for name in signal_names if hasattr(signal, name)]  # no SIGHUP on Windows
    previous = {number: signal.signal(number, handler) for number in numbers}
    try:
        yield
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)
