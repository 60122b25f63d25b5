"""Each writer replaces only its own kind of output (issue 32, data loss).

A property test: every library writer (preprocess, train, transfer-vocabulary, convert, generate's audio and its
spectrogram) writes into every other writer's output, into a user's folder and into a user's files; each target is
byte-identical afterwards unless overwrite was given. The outputs are made once (tiny random models, a second of
audio) and copied for each example, so an example that is refused costs milliseconds.
"""

import json
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import tiny_config


def _snapshot(path: Path) -> dict:
    """Every byte and every link under `path` (a file or a folder)."""
    if path.is_symlink() or path.is_file():
        return {"": path.read_bytes(), "link": str(path.readlink()) if path.is_symlink() else None}
    return {str(p.relative_to(path)): (str(p.readlink()) if p.is_symlink() else p.read_bytes() if p.is_file() else "/")
            for p in sorted(path.rglob("*"))}


class Writers:
    """The inputs every writer needs, and one call per writer: `write(name, target, overwrite)`."""

    def __init__(self, root: Path, monkeypatch):
        from simba_music.modeling.audio_codec import AudioCodec
        from simba_music.testing_utils import tiny_random_codec, tiny_text_to_music, tiny_wavtokenizer

        self.root = root
        audio = root / "audio"
        audio.mkdir()
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
        soundfile.write(audio / "a.wav", tone, 16000)
        self.rows = [{"audio": str(audio / "a.wav"), "caption": "piano"}]
        self.codec = AudioCodec(tiny_random_codec())
        tiny_text_to_music().save_pretrained(root / "t2m")
        tiny_wavtokenizer(codebook_size=48).save_pretrained(root / "codec")
        self._training_data(root)
        self.monkeypatch = monkeypatch
        (root / "src").mkdir()
        (root / "src" / "tiny.ckpt").write_bytes(b"PK\x03\x04 a checkpoint")

    @staticmethod
    def _training_data(root: Path) -> None:
        from datasets import Dataset, DatasetDict

        rows = [{"codes": list(range(offset, offset + 12)), "text_states": torch.zeros(3, 24).tolist()}
                for offset in range(4)]
        DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(root / "train-data"))
        config = tiny_config().to_diff_dict()
        (root / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "model_type"}))

    def write(self, name: str, target: Path, overwrite: bool) -> None:
        getattr(self, name.replace("-", "_"))(target, overwrite)

    def preprocess(self, target, overwrite):
        from simba_music.training.preprocess import preprocess

        preprocess(list(self.rows), self.codec, str(target), segment_seconds=1.0, min_seconds=0.5, progress=False,
                   overwrite=overwrite)

    def train(self, target, overwrite):
        from simba_music.training.train import TrainArguments, train

        train(TrainArguments(dataset=str(self.root / "train-data"), output_dir=str(target),
                             config=str(self.root / "config.json"), max_steps=1, batch_size=2, warmup_steps=1,
                             save_every=1, progress=False, overwrite=overwrite))

    def transfer_vocabulary(self, target, overwrite):
        from simba_music.training.vocabulary_transfer import VocabularyTransferArguments, run

        run(VocabularyTransferArguments(model=str(self.root / "t2m"), codec=str(self.root / "codec"),
                                        audio=(str(self.root / "audio"),), output_dir=str(target), progress=False,
                                        overwrite=overwrite))

    def convert(self, target, overwrite):
        from tests.test_output_safety import _quick_conversion

        _quick_conversion(self.monkeypatch)(str(self.root / "src" / "tiny.ckpt"), None, str(target),
                                            decoder_only=True, verify=False, overwrite=overwrite)

    def generate(self, target, overwrite):
        from simba_music.audio.files import write_wav

        write_wav(target, np.zeros(160, dtype=np.float32), 16000, overwrite=overwrite)

    def spectrogram(self, target, overwrite):
        from simba_music.audio.files import write_spectrogram

        write_spectrogram(target, np.zeros(1600, dtype=np.float32), 16000, overwrite=overwrite)


WRITERS = ["preprocess", "train", "transfer-vocabulary", "convert", "generate", "spectrogram"]
FILE_NAMES = {"generate": "out.wav", "spectrogram": "out.png"}  # the rest write folders
USERS = {"user-folder": None, "user-wav": "song.wav", "user-png": "photo.png", "link-to-user-folder": None}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each writer's output, and a user's folder and files, made once."""
    root = tmp_path_factory.mktemp("writers")
    with pytest.MonkeyPatch.context() as monkeypatch:
        writers = Writers(root, monkeypatch)
        made = root / "made"
        made.mkdir()
        for name in WRITERS:
            writers.write(name, made / FILE_NAMES.get(name, name), overwrite=False)
        (made / "user-folder").mkdir()
        (made / "user-folder" / "notes.txt").write_text("mine")
        (made / "song.wav").write_bytes(b"RIFF my own recording")
        (made / "photo.png").write_bytes(b"\x89PNG my own photo")
        (made / "link-to-user-folder").symlink_to("user-folder")
        yield writers, made


def _place(made: Path, folder: Path, kind: str) -> Path:
    """A copy of the output of `kind` (a writer or a user's thing) in `folder`; returns the target path."""
    name = FILE_NAMES.get(kind) or USERS.get(kind) or kind
    if kind == "link-to-user-folder":
        shutil.copytree(made / "user-folder", folder / "user-folder")
        (folder / name).symlink_to("user-folder")
    elif (made / name).is_dir():
        shutil.copytree(made / name, folder / name, symlinks=True)
    else:
        shutil.copy2(made / name, folder)
    if FILE_NAMES.get(kind):  # a copy of our file is not ours (it was never written there): record it as written
        from simba_music.io_utils import record_written_file

        record_written_file(folder / name)
    return folder / name


TARGETS = WRITERS + list(USERS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writer=st.sampled_from(WRITERS), target=st.sampled_from(TARGETS), overwrite=st.booleans())
def test_every_writer_keeps_every_other_output(outputs, writer, target, overwrite):
    writers, made = outputs
    if overwrite and writer == "train" and target not in FILE_NAMES and target not in USERS:
        overwrite = False  # a whole training run per example is too slow; --overwrite is tested below
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        path = _place(made, folder, target)
        linked = folder / "user-folder" if target == "link-to-user-folder" else path
        before = _snapshot(linked)
        try:
            writers.write(writer, path, overwrite)
            refused = None
        except (ValueError, FileExistsError) as error:
            refused = str(error)
        own_kind = writer == target
        if refused is None:
            assert overwrite or own_kind, f"{writer} replaced {target} without overwrite"
        else:
            assert _snapshot(linked) == before, f"{writer} was refused ({refused}) but changed {target}"
            assert not own_kind or writer == "train", f"{writer} refused its own output: {refused}"
            names = {"user-folder", "link-to-user-folder", "user-wav", "user-png"}
            if {writer, target}.isdisjoint({*names, *FILE_NAMES}) and not overwrite and not own_kind:
                assert f"simba-music {target}" in refused, f"the message does not name the writer: {refused}"
        assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_overwrite_lets_train_replace_another_writers_folder(outputs, tmp_path):
    writers, made = outputs
    target = _place(made, tmp_path, "preprocess")
    writers.write("train", target, overwrite=True)
    assert json.loads((target / "simba-music-output.json").read_text())["writer"] == "simba-music train"


def test_a_symlinked_output_folder_is_replaced_where_it_points(outputs, tmp_path):
    """The link stays a link; the linked dataset is the one refreshed (it used to become a real folder, leaving the
    linked one stale)."""
    writers, made = outputs
    real = _place(made, tmp_path, "preprocess")
    (tmp_path / "link").symlink_to(real.name)
    (real / "summary.json").write_text("{}")  # stale: the writer's own file, changed
    summary = json.loads((made / "preprocess" / "summary.json").read_text())
    writers.write("preprocess", tmp_path / "link", overwrite=False)
    assert (tmp_path / "link").is_symlink() and json.loads((real / "summary.json").read_text()) == summary


@pytest.mark.parametrize("output", ["", "."])
def test_the_current_folder_is_refused_before_any_work(outputs, tmp_path, monkeypatch, output):
    writers, _ = outputs
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="--output-dir: .*(empty path|current folder)"):
        writers.write("preprocess", Path(output) if output else output, overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_an_output_inside_an_earlier_output_is_refused_before_any_work(outputs, tmp_path):
    writers, made = outputs
    dataset = _place(made, tmp_path, "preprocess")
    before = _snapshot(dataset)
    for writer in ("preprocess", "convert", "transfer-vocabulary"):
        with pytest.raises(ValueError, match="lies inside .* the output of 'simba-music preprocess'"):
            writers.write(writer, dataset / "inner", overwrite=True)
    assert _snapshot(dataset) == before


def test_a_user_file_added_to_a_writers_folder_keeps_it_from_being_replaced(outputs, tmp_path):
    writers, made = outputs
    dataset = _place(made, tmp_path, "preprocess")
    (dataset / "my-notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files that 'simba-music preprocess' did not write .*my-notes.txt"):
        writers.write("preprocess", dataset, overwrite=False)
    assert (dataset / "my-notes.txt").read_text() == "mine"


def test_an_edited_output_file_is_no_longer_replaced(outputs, tmp_path):
    """A file simba-music wrote may be replaced by the next run; once the user changed it, it is theirs."""
    writers, _ = outputs
    writers.write("generate", tmp_path / "out.wav", overwrite=False)
    writers.write("generate", tmp_path / "out.wav", overwrite=False)  # our own file: replaced
    (tmp_path / "out.wav").write_bytes(b"RIFF edited by the user")
    with pytest.raises(ValueError, match="path: .* simba-music did not write it"):
        writers.write("generate", tmp_path / "out.wav", overwrite=False)
    assert (tmp_path / "out.wav").read_bytes() == b"RIFF edited by the user"


def test_a_spectrogram_must_be_a_png(outputs, tmp_path):
    writers, _ = outputs
    for name in ("notes.txt", "spec.jpg", "spec"):
        with pytest.raises(ValueError, match=r"--spectrogram: .* must end in \.png"):
            writers.write("spectrogram", tmp_path / name, overwrite=True)
    assert list(tmp_path.iterdir()) == []
