"""Where the demo server keeps its results: one bounded folder per running server, emptied when it stops.

Each launch makes a `simba-music-demo-*` folder in the temporary folder, with an owner file naming its process (pid
and start time). Every result (a WAV and a PNG) goes there, and so does gradio's own cache (`GRADIO_TEMP_DIR`), so
that what the page serves is never copied elsewhere. After each result the oldest files are deleted until at most
`max_files` files and `max_bytes` bytes remain. The folder is removed at exit, and the next launch removes every
store whose process is gone (a crash, a kill -9): only folders with our owner file, owned by this user.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ..io_utils import OUTPUT_MARKER

STORE_PREFIX = "simba-music-demo-"
# The owner file is simba-music's output marker: files written into the store are then known to be ours without a
# record each (io_utils.atomic_path), and no other writer takes the folder for its own.
OWNER_FILE = OUTPUT_MARKER
STORE_WRITER = "simba-music demo"
MAX_STORED_FILES = 40  # 20 results (WAV + PNG) kept for download; older ones are deleted
MAX_STORED_BYTES = 64 * 2**20
# Folders of versions before the owner file held only results; one untouched for a day belongs to no running server.
_LEGACY_RESULT = re.compile(r"^simba-music-seed\d+-\d+\.(wav|png)$")
LEGACY_AGE_S = 24 * 3600


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (so that a reused pid is not taken for the owner), "" where /proc is
    missing, None for no such process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _owner_alive(owner: dict) -> bool:
    started = _process_start(int(owner.get("pid", -1)))
    return started is not None and (started == "" or started == owner.get("started"))


def _is_abandoned(folder: Path) -> bool:
    """True for a store of ours whose server is gone; never for a folder we cannot tell is ours."""
    if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
        return False
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
    except FileNotFoundError:
        entries = list(folder.iterdir())
        newest = max([entry.stat().st_mtime for entry in entries] + [folder.stat().st_mtime])
        return all(_LEGACY_RESULT.match(entry.name) for entry in entries) and time.time() - newest > LEGACY_AGE_S
    except (OSError, ValueError):
        return False
    return isinstance(owner, dict) and owner.get("writer") == STORE_WRITER and not _owner_alive(owner)


def remove_abandoned_stores(parent: str | os.PathLike | None = None) -> list[Path]:
    """Delete the stores in `parent` (default: the temporary folder) whose server no longer runs; returns them."""
    removed = []
    for folder in sorted(Path(parent or tempfile.gettempdir()).glob(f"{STORE_PREFIX}*")):
        if _is_abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class ResultStore:
    """A new store folder (after removing abandoned ones), trimmed by `trim` and removed by `close` or at exit."""

    def __init__(self, parent: str | os.PathLike | None = None, max_files: int = MAX_STORED_FILES,
                 max_bytes: int = MAX_STORED_BYTES):
        if max_files < 2 or max_bytes < 1:
            raise ValueError(f"ResultStore: max_files must be >= 2 (one WAV and its PNG) and max_bytes >= 1, got "
                             f"{max_files} and {max_bytes}")
        remove_abandoned_stores(parent)
        self.max_files, self.max_bytes = max_files, max_bytes
        self.root = Path(tempfile.mkdtemp(prefix=STORE_PREFIX, dir=parent))
        owner = {"writer": STORE_WRITER, "pid": os.getpid(), "started": _process_start(os.getpid())}
        (self.root / OWNER_FILE).write_text(json.dumps(owner))
        self._count = 0
        atexit.register(self.close)

    def new_stem(self, seed: int) -> Path:
        self._count += 1
        return self.root / f"simba-music-seed{seed}-{self._count}"

    def files(self) -> list[Path]:
        """Stored files (the owner file aside), oldest first."""
        found = [p for p in self.root.rglob("*") if p.is_file() and p.name != OWNER_FILE]
        return sorted(found, key=lambda p: p.stat().st_mtime_ns)

    def trim(self, keep: tuple = ()) -> None:
        """Delete the oldest files (never those in `keep`, the result just made) until the bounds hold."""
        keep = {Path(p) for p in keep}
        files = self.files()
        total = sum(p.stat().st_size for p in files)
        for old in [p for p in files if p not in keep]:
            if len(files) <= self.max_files and total <= self.max_bytes:
                break
            total -= old.stat().st_size
            old.unlink(missing_ok=True)
            files.remove(old)
        for folder in sorted((p for p in self.root.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()  # gradio's per-file cache folders, once empty

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["MAX_STORED_BYTES", "MAX_STORED_FILES", "ResultStore", "remove_abandoned_stores"]
