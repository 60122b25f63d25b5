"""The demo server is safe to expose (issue 32): no uploads, a bounded result store emptied at exit and on the next
start, and --host/--port/--model refused before the model loads."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")

from simba_music.app.session import MusicSession, Request, check_server_options  # noqa: E402
from simba_music.app.store import OWNER_FILE, STORE_PREFIX, ResultStore, remove_abandoned_stores  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_upload_of_5_mb_is_refused_and_stored_nowhere(tmp_path, monkeypatch):
    import httpx

    from simba_music.app import ui

    monkeypatch.setattr(ui, "MusicSession", lambda model: MusicSession(model, output_dir=tmp_path))
    port = _free_port()
    demo = ui.launch(None, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        blob = os.urandom(5 * 2**20)
        for route in ("gradio_api/upload", "gradio_api/upload/", "upload"):
            answer = httpx.post(f"http://127.0.0.1:{port}/{route}", files={"files": ("blob.bin", blob)}, timeout=60)
            assert answer.status_code in (403, 404, 405, 413), (route, answer.status_code)
        answer = httpx.post(f"http://127.0.0.1:{port}/gradio_api/upload", files={"files": ("x.bin", b"12")})
        assert answer.status_code == 403  # small ones too: the page has no upload component
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=60).status_code == 200  # the page itself is served
        stored = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != OWNER_FILE]
        assert stored == [] and not any(p.stat().st_size > 2**20 for p in Path(demo.GRADIO_CACHE).rglob("*")
                                        if p.is_file())
    finally:
        demo.close()


class _Session(MusicSession):
    """The session's writing without a model: `_write` as the page calls it, with a second of silence."""

    def __init__(self, store):
        self.store, self.output_dir, self.sampling_rate = store, store.root, 16000


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_after_50_requests_and_a_restart_the_store_holds_at_most_the_bound(tmp_path):
    store = ResultStore(tmp_path, max_files=6, max_bytes=200_000)
    session = _Session(store)
    for index in range(50):
        wav, png = session._write(Request("piano", 1.0, 5.0, 1.0, index), np.zeros((16000, 1), np.float32))
        files = store.files()
        assert len(files) <= 6 and sum(p.stat().st_size for p in files) <= 200_000
        assert {Path(wav), Path(png)} <= set(files)  # the newest result is always there
    # A crash: the process never ran its exit handler. The next start removes the store, as a clean exit would.
    owner = json.loads((store.root / OWNER_FILE).read_text())
    (store.root / OWNER_FILE).write_text(json.dumps({**owner, "pid": _dead_pid()}))
    restarted = ResultStore(tmp_path, max_files=6, max_bytes=200_000)
    assert not store.root.exists() and restarted.files() == []
    restarted.close()
    assert list(tmp_path.iterdir()) == []


def test_only_abandoned_stores_of_ours_are_removed(tmp_path):
    alive = ResultStore(tmp_path)  # this process: running
    mine = tmp_path / f"{STORE_PREFIX}user"  # a user's folder of that name, no owner file
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    legacy = tmp_path / f"{STORE_PREFIX}old"  # an earlier version's store, untouched for two days
    legacy.mkdir()
    (legacy / "simba-music-seed0-0.wav").write_bytes(b"RIFF")
    os.utime(legacy / "simba-music-seed0-0.wav", (0, 0))
    os.utime(legacy, (0, 0))
    assert remove_abandoned_stores(tmp_path) == [legacy]
    assert alive.root.exists() and (mine / "notes.txt").exists()
    alive.close()


def test_the_store_is_removed_at_exit(tmp_path):
    code = (f"from simba_music.app.store import ResultStore; s = ResultStore({str(tmp_path)!r}); "
            "(s.root / 'a.wav').write_bytes(b'x'); print(s.root)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    assert result.returncode == 0, result.stderr[-2000:]
    assert not Path(result.stdout.strip()).exists()


@pytest.mark.parametrize("host, port, model, message", [
    ("256.1.1.1", 7860, None, "--host: '256.1.1.1' is not an address"),
    ("127.0.0.1", 70000, None, r"--port: must be an integer in \[1, 65535\], got 70000"),
    ("127.0.0.1", 0, None, "--port: must be an integer"),
    ("127.0.0.1", None, "missing", "--model: 'missing' is not a saved text-to-music model folder"),
])
def test_server_options_are_refused_before_the_model_loads(host, port, model, message):
    with pytest.raises(ValueError, match=message):
        check_server_options(host, _free_port() if port is None else port, model)


def test_a_port_in_use_is_named(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ValueError, match="--port: cannot serve on 127.0.0.1:"):
            check_server_options("127.0.0.1", busy.getsockname()[1])
