"""A save that dies midway leaves the previous file or folder intact and no temporary behind."""

import numpy as np
import pytest
import soundfile

from simba_music.audio import write_wav
from simba_music.io_utils import atomic_directory, atomic_path


class Boom(RuntimeError):
    pass


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_atomic_path_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    with pytest.raises(Boom), atomic_path(target) as temporary:
        temporary.write_bytes(b"half-writ")
        raise Boom
    assert target.read_bytes() == b"previous" and not _leftovers(tmp_path)
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new" and not _leftovers(tmp_path)


def test_wav_killed_midway_keeps_the_previous_wav(tmp_path, monkeypatch):
    target = tmp_path / "song.wav"
    write_wav(target, np.zeros(1600, np.float32), 16000)
    before = target.read_bytes()

    def dies_midway(path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"RIFF\x00\x00")
        raise Boom

    monkeypatch.setattr(soundfile, "write", dies_midway)
    with pytest.raises(Boom):
        write_wav(target, np.ones(1600, np.float32), 16000)
    assert target.read_bytes() == before and not _leftovers(tmp_path)


def test_atomic_directory_keeps_the_previous_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as folder:
        (folder / "weights").write_text("v1")
    with pytest.raises(Boom), atomic_directory(target) as folder:
        (folder / "weights").write_text("v2 partial")
        raise Boom
    assert (target / "weights").read_text() == "v1" and not _leftovers(tmp_path)
    with atomic_directory(target) as folder:
        (folder / "weights").write_text("v2")
    assert (target / "weights").read_text() == "v2" and not _leftovers(tmp_path)


def test_published_outputs_get_ordinary_permissions(tmp_path):
    # mkstemp/mkdtemp make owner-only entries: a WAV, a report or a model folder must not stay 0600/0700.
    import os

    import torch
    from safetensors.torch import save_file

    previous = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "report.json") as temporary:
            temporary.write_text("{}")
        with atomic_directory(tmp_path / "model") as temporary:
            save_file({"w": torch.zeros(2)}, str(temporary / "model.safetensors"))
            (temporary / "sub").mkdir()
            (temporary / "sub" / "config.json").write_text("{}")
    finally:
        os.umask(previous)
    mode = lambda path: (tmp_path / path).stat().st_mode & 0o777  # noqa: E731
    assert mode("report.json") == 0o644
    assert mode("model") == 0o755 and mode("model/sub") == 0o755
    assert mode("model/model.safetensors") == 0o644 and mode("model/sub/config.json") == 0o644
