"""A save that dies midway leaves the previous file or folder intact and no temporary behind."""

import numpy as np
import pytest
import soundfile

from simba_music.io_utils import atomic_directory, atomic_path, write_wav


class Boom(RuntimeError):
    pass


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_atomic_path_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    with pytest.raises(Boom):
        with atomic_path(target) as temporary:
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
    with pytest.raises(Boom):
        with atomic_directory(target) as folder:
            (folder / "weights").write_text("v2 partial")
            raise Boom
    assert (target / "weights").read_text() == "v1" and not _leftovers(tmp_path)
    with atomic_directory(target) as folder:
        (folder / "weights").write_text("v2")
    assert (target / "weights").read_text() == "v2" and not _leftovers(tmp_path)
