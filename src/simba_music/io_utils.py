"""Crash-safe writing: write to a temporary file or folder beside the target, then rename over it. Also what may be
replaced (output markers, the record of files written), run locks, signals and OS errors as one-line messages."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
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
    is removed and any previous `target` is left intact. A symlinked `target` is followed (the linked file is
    replaced, the link kept). A file written outside a simba-music output folder is recorded (`record_written_file`)
    so that a later run may replace it."""
    target = Path(target)
    target = target.resolve() if target.is_symlink() else target
    temporary = _temporary_beside(target, suffix or target.suffix)
    try:
        yield Path(temporary)
        if os.path.exists(temporary):
            give_default_permissions(temporary)
        os.replace(temporary, target)
        if not _inside_output(target):
            record_written_file(target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Readers never see a half-written file: write a sibling temp file, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


# Single files (generate's --output and --spectrogram) carry no marker, and a sidecar beside each would litter the
# user's folder. Instead each file simba-music writes is recorded here by its real path and the SHA-256 of its bytes:
# an existing file is replaced only while its bytes are still what we wrote, so a user's file, or our file that the
# user has since edited, is never replaced without --overwrite. A lost record (another machine, a cleared cache)
# only ever makes us refuse, never replace.
WRITTEN_FILES = "written-files.json"
WRITTEN_FILES_KEPT = 2000  # the newest records; an older file is refused like a user's


def _state_directory() -> Path:
    default = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "simba-music"
    return Path(os.environ.get("SIMBA_MUSIC_STATE_DIR") or default)


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked_records(write: bool = True):
    """The written-files records, read and (on success, if `write`) rewritten under an exclusive lock."""
    import fcntl

    folder = _state_directory()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{WRITTEN_FILES}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            records = json.loads((folder / WRITTEN_FILES).read_text())
        except (OSError, ValueError):
            records = {}
        yield records
        if not write:
            return
        records = dict(list(records.items())[-WRITTEN_FILES_KEPT:])
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{WRITTEN_FILES}.")
        with os.fdopen(handle, "w") as out:
            json.dump(records, out)
        os.replace(temporary, folder / WRITTEN_FILES)


def record_written_file(path: str | os.PathLike) -> None:
    """Remember that simba-music wrote `path` with its present bytes. Best effort: a state folder that cannot be
    written means the file will be refused later without --overwrite, which is safe."""
    path = Path(path).resolve()
    try:
        digest = _file_sha256(path)
        with _locked_records() as records:
            records.pop(str(path), None)  # re-inserted last: the newest are kept
            records[str(path)] = digest
    except OSError:
        pass


def _inside_output(path: Path) -> bool:
    """True for a file in a folder tree that a simba-music writer marked: its writer vetted the folder, and its
    files (a training run's curve, an evaluation's clips) need no record each."""
    return any(_marker(parent) is not None for parent in Path(path).resolve().parents)


def is_own_file(path: str | os.PathLike) -> bool:
    """True when `path` holds exactly the bytes simba-music last wrote there, or lies in a simba-music output."""
    path = Path(path).resolve()
    if _inside_output(path):
        return True
    try:
        with _locked_records(write=False) as records:
            recorded = records.get(str(path))
        return recorded is not None and recorded == _file_sha256(path)
    except OSError:
        return False


# Every folder a simba-music writer makes holds this file, naming the writer and (for a folder written whole) what it
# put there. A writer replaces or writes into only its own kind of folder holding only what it wrote (or a new or
# empty one), so that an --output-dir pointing at the user's files, or at another writer's output, deletes nothing.
OUTPUT_MARKER = "simba-music-output.json"


def _marker(directory: Path) -> dict | None:
    try:
        marker = json.loads((directory / OUTPUT_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def is_own_output(directory: str | os.PathLike) -> bool:
    """True for a missing or empty folder, or one holding the marker a simba-music writer left."""
    directory = Path(directory)
    if not directory.exists():
        return True
    return directory.is_dir() and (not _entries(directory) or _marker(directory) is not None)


def _entries(directory: Path) -> list[str]:
    """What `directory` holds, a run's lock file aside (a run being started takes it before writing anything)."""
    return [name for name in os.listdir(directory) if name != LOCK_FILE]


def read_output_marker(directory: str | os.PathLike) -> dict | None:
    """What the writer recorded in `directory`'s marker (its name and the run's identity), or None."""
    return _marker(Path(directory))


def write_output_marker(directory: str | os.PathLike, writer: str, **identity) -> None:
    directory = Path(directory)
    with atomic_path(directory / OUTPUT_MARKER) as temporary:
        temporary.write_text(json.dumps({"writer": writer, **identity}, indent=1, sort_keys=True) + "\n")


def resolve_output(path: str | os.PathLike, option: str) -> Path:
    """The real folder or file an output path names (through symlinks, so that a linked output is replaced where it
    lives and the link stays); "" and folders that are or hold the current folder are refused: replacing them would
    pull the working directory from under the process."""
    if not str(path).strip():
        raise ValueError(f"{option}: empty path; give the name of a new folder or file")
    resolved = Path(path).resolve()
    if Path.cwd().resolve().is_relative_to(resolved):
        raise ValueError(f"{option}: {str(path)!r} is (or holds) the current folder; give the name of a new folder")
    return resolved


def _enclosing_output(resolved: Path) -> tuple[Path, dict] | None:
    """The nearest folder above `resolved` that a simba-music writer wrote whole (its marker lists its contents):
    that writer's next run replaces it, nested output and all. Run folders, which writers add to, do not count."""
    for parent in resolved.parents:
        marker = _marker(parent)
        if marker is not None and isinstance(marker.get("contents"), list):
            return parent, marker
    return None


def _foreign_contents(directory: Path, marker: dict) -> list[str]:
    """Entries of a marked folder that its writer did not record (a folder written whole records its contents)."""
    recorded = marker.get("contents")
    if not isinstance(recorded, list):
        return []
    return sorted(set(os.listdir(directory)) - set(recorded))


def _check_inputs(resolved: Path, path, option: str, inputs: tuple) -> None:
    for source in inputs:
        if source is None or not Path(source).exists():
            continue  # a Hub id, or a missing path that its own check reports
        source_path = Path(source).resolve()
        if source_path == resolved or source_path.is_relative_to(resolved) or (
                source_path.is_dir() and resolved.is_relative_to(source_path)):
            raise ValueError(f"{option}: {str(path)!r} would hold, replace or sit inside the input {str(source)!r}; "
                             "choose a folder outside the inputs")


def _check_writable_folder(resolved: Path, path, option: str) -> None:
    """Refuse, before any work, an output whose folder cannot be written (a read-only file system, no permission):
    tried by making and removing a temporary folder where the writer will make its own."""
    existing = next(folder for folder in (resolved.parent, *resolved.parent.parents) if folder.exists())
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".simba-music-probe."))
    except OSError as error:
        raise ValueError(f"{option}: cannot write in {str(existing)!r} for {str(path)!r} "
                         f"({error.strerror or error})") from None


def check_output_directory(path: str | os.PathLike, option: str, overwrite: bool = False,
                           inputs: tuple = (), writer: str | None = None) -> Path:
    """Refuse, before any work, an output folder that (a) holds or equals one of `inputs` or lies inside an input
    folder, or lies inside an output written whole (`_enclosing_output`), whatever `overwrite` says, (b) is a file,
    or, unless `overwrite`, (c) holds files no simba-music writer made, (d) is the output of another writer than
    `writer` (None: any writer's output is accepted), or (e) holds files besides those its writer recorded.
    `option` names the flag in the message (--output-dir, --output). Returns the resolved folder (symlinks
    followed)."""
    resolved = resolve_output(path, option)
    _check_inputs(resolved, path, option, inputs)
    enclosing = _enclosing_output(resolved)
    if enclosing is not None:
        raise ValueError(f"{option}: {str(path)!r} lies inside {str(enclosing[0])!r}, the output of "
                         f"{enclosing[1].get('writer')!r}, which its next run replaces whole; choose a folder "
                         "outside it")
    if resolved.exists() and not resolved.is_dir():
        raise ValueError(f"{option}: {str(path)!r} exists and is not a folder")
    _check_writable_folder(resolved, path, option)
    if overwrite or not resolved.exists() or not _entries(resolved):
        return resolved
    marker = _marker(resolved)
    if marker is None:
        raise ValueError(f"{option}: {str(path)!r} already holds files that simba-music did not write (no "
                         f"{OUTPUT_MARKER}); choose a new or empty folder, or pass --overwrite to replace it")
    if writer is not None and marker.get("writer") != writer:
        raise ValueError(f"{option}: {str(path)!r} holds the output of {marker.get('writer')!r}, not of "
                         f"{writer!r}; choose a new or empty folder, or pass --overwrite to replace it")
    foreign = _foreign_contents(resolved, marker)
    if foreign:
        raise ValueError(f"{option}: {str(path)!r} holds files that {marker.get('writer')!r} did not write "
                         f"({', '.join(foreign[:5])}); move them away, or pass --overwrite to replace the folder")
    return resolved


def claim_output_directory(path: str | os.PathLike, option: str, writer: str, overwrite: bool = False,
                           inputs: tuple = (), **identity) -> Path:
    """`check_output_directory`, then create the folder and mark it as `writer`'s (for writers that add files to
    the folder rather than replacing it whole)."""
    target = check_output_directory(path, option, overwrite, inputs, writer)
    target.mkdir(parents=True, exist_ok=True)
    write_output_marker(target, writer, **identity)
    return target


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, writer: str = "simba-music", overwrite: bool = False):
    """Yield a fresh temporary folder beside `target`; on success it takes `target`'s place (a previous folder is
    moved aside first and removed after), on error it is removed and the previous `target` is left intact.

    The new folder is marked as `writer`'s output, with its contents. A previous `target` that
    `check_output_directory` refuses for `writer` is refused (before and after the work) unless `overwrite`. A
    symlinked `target` is followed: the linked folder is replaced and the link kept."""
    target = check_output_directory(target, "output", overwrite, writer=writer)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield temporary
        write_output_marker(temporary, writer, contents=sorted([*os.listdir(temporary), OUTPUT_MARKER]))
        give_default_permissions(temporary)
        if target.exists():
            check_output_directory(target, "output", overwrite, writer=writer)  # it may have changed meanwhile
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


def check_writable_file(path: str | os.PathLike, option: str, overwrite: bool = False,
                        suffixes: tuple[str, ...] | None = None) -> Path:
    """Refuse, before any work, a file path that is a folder, lies in a missing folder, cannot be created there
    (a read-only or virtual file system such as /proc: tried by creating and removing a temporary file), does not
    end in one of `suffixes` (when given), or names an existing file that simba-music did not write (or that changed
    since, see `is_own_file`) unless `overwrite`. A symlink is judged by the file it points to."""
    if not str(path).strip():
        raise ValueError(f"{option}: empty path; give a file name")
    target = Path(path)
    if suffixes is not None and target.suffix.lower() not in suffixes:
        raise ValueError(f"{option}: {str(path)!r} must end in {' or '.join(suffixes)}")
    real = target.resolve() if target.is_symlink() else target
    try:
        os.remove(_temporary_beside(real, ".probe"))
    except IsADirectoryError:
        raise ValueError(f"{option}: {str(path)!r} is a directory; give a file name") from None
    except OSError as error:
        if not (real.parent if str(real.parent) else Path(".")).is_dir():
            raise ValueError(f"{option}: directory of {str(path)!r} does not exist") from None
        raise ValueError(f"{option}: cannot write in the folder of {str(path)!r} ({error.strerror or error})") from None
    if real.exists() and not overwrite and not is_own_file(real):
        raise ValueError(f"{option}: {str(path)!r} exists and simba-music did not write it (or it was changed "
                         "since); choose another name, or pass --overwrite to replace it")
    return target


class Terminated(SystemExit):
    """SIGTERM or SIGHUP, raised as an exception so that `finally` blocks (temporary files) run as on Ctrl-C."""


# A closed terminal or a dropped ssh session sends SIGHUP: it must clean up exactly as a plain `kill` does.
TERMINATING_SIGNALS = ("SIGTERM", "SIGHUP")


@contextlib.contextmanager
def terminate_as_exception(signal_names: tuple[str, ...] = TERMINATING_SIGNALS):
    """Within the block, SIGTERM (plain `kill`) and SIGHUP (the terminal closed), or the given `signal_names`, raise
    `Terminated` (exit status 128 + the signal) instead of killing the process outright, so atomic writers remove
    their temporary files and open files are closed properly. A signal the process ignores stays ignored (`nohup`
    ignores SIGHUP so that a job outlives its terminal). Outside the main thread it does nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(128 + signum)

    signals = [getattr(signal, name) for name in signal_names if hasattr(signal, name)]  # no SIGHUP on Windows
    signals = [number for number in signals if signal.getsignal(number) != signal.SIG_IGN]
    previous = {number: signal.signal(number, handler) for number in signals}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


class OutputError(OSError):
    """An output that could not be written (disk full, read-only, no permission, busy), in one line naming the path
    and the option. The writers leave nothing half-written, so the CLI prints the message and exits 1."""

    def __str__(self) -> str:
        return self.strerror  # the message alone, without OSError's "[Errno 28]" prefix


_OUTPUT_ERRNOS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                  errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                  errno.EPERM: "operation not permitted", errno.EBUSY: "the file or folder is busy",
                  errno.ETXTBSY: "the file is busy"}


def _errno_of(error: BaseException) -> int | None:
    """The OS error number behind `error`: an OSError's own, or the one safetensors (SafetensorError) and
    libsndfile (LibsndfileError, 'System error.') report in their messages or leave unsaid."""
    if isinstance(error, OSError):
        return error.errno
    match = re.search(r"\bcode: (\d+)|Errno (\d+)", str(error))
    return int(match.group(1) or match.group(2)) if match else None


@contextlib.contextmanager
def output_errors(path: str | os.PathLike, option: str):
    """Within the block, an OS error writing the output (disk full, read-only, permission, busy), whatever library
    raised it, becomes an `OutputError` naming `option` and `path`. Other errors pass unchanged."""
    try:
        yield
    except OutputError:
        raise
    except Exception as error:
        number = _errno_of(error)
        if number is None and type(error).__name__ == "LibsndfileError":  # libsndfile says only "System error."
            folder = Path(path).resolve().parent
            number = errno.ENOSPC if folder.is_dir() and shutil.disk_usage(folder).free < 2**20 else None
        if number not in _OUTPUT_ERRNOS:
            raise
        raise OutputError(number, f"{option}: cannot write {str(path)!r}: {_OUTPUT_ERRNOS[number]} "
                                  f"({os.strerror(number)}); nothing was left half-written") from error


@contextlib.contextmanager
def exclusive_lock(folder: str | os.PathLike, option: str):
    """Hold an exclusive lock on `folder` (a lock file in it, holding our pid) for the block; a second process
    asking for it is refused at once, naming the holder. The kernel drops the lock when the holder dies."""
    import fcntl

    with open(Path(folder) / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ValueError(f"{option}: {str(folder)!r} is in use by another simba-music process (pid {holder}); "
                             "wait for it to finish, or choose another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


LOCK_FILE = ".simba-music.lock"
