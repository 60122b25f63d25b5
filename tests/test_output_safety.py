"""No writer destroys what it did not make (issue 14, data loss): output folders, generate's files, training runs,
preprocess splits and audio formats. Each case failed on the main branch before the fix."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from simba_music.cli import main
from simba_music.io_utils import atomic_directory


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _corpus(folder: Path, rows: list[dict]) -> Path:
    """WAV clips (1.2 s of a 440 Hz tone at 16 kHz) and a manifest.jsonl listing `rows`."""
    folder.mkdir(parents=True, exist_ok=True)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(19200) / 16000).astype(np.float32)
    for row in rows:
        if not row.get("missing"):
            soundfile.write(folder / row["audio"], tone, 16000)
    (folder / "manifest.jsonl").write_text("".join(json.dumps({k: v for k, v in row.items() if k != "missing"}) + "\n"
                                                   for row in rows))
    return folder / "manifest.jsonl"


def _exit_message(capsys, argv) -> tuple[int, str]:
    with pytest.raises(SystemExit) as error:
        main(argv)
    return error.value.code, capsys.readouterr().err


# --- atomic_directory: the one mechanism every folder writer uses ---------------------------------------------------

def test_atomic_directory_refuses_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    with (pytest.raises(ValueError, match="already holds files that simba-music did not write"),
          atomic_directory(mine) as temporary):
        (temporary / "weights").write_text("new")
    assert _snapshot(mine) == {"holiday.jpg": b"precious"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no temporary folder left
    with atomic_directory(mine, overwrite=True) as temporary:  # asked for
        (temporary / "weights").write_text("new")
    assert sorted(_snapshot(mine)) == ["simba-music-output.json", "weights"]
    with atomic_directory(mine) as temporary:  # its own output now: replaced without --overwrite
        (temporary / "weights").write_text("newer")
    assert (mine / "weights").read_text() == "newer"


def test_preprocess_into_the_corpus_folder_is_refused_and_deletes_nothing(tmp_path, capsys):
    manifest = _corpus(tmp_path / "corpus2", [{"audio": "a.wav", "caption": "piano"}])
    before = _snapshot(tmp_path / "corpus2")
    for overwrite in ([], ["--overwrite"]):  # an input inside the output is refused even with --overwrite
        code, message = _exit_message(capsys, ["preprocess", "--manifest", str(manifest), "--output-dir",
                                               str(tmp_path / "corpus2"), "--codec", str(tmp_path), *overwrite])
        assert code == 2 and "--output-dir" in message and "input" in message
    assert _snapshot(tmp_path / "corpus2") == before


def test_preprocess_into_an_unrelated_folder_needs_overwrite(tmp_path, capsys):
    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music.testing_utils import tiny_random_codec
    from simba_music.training.preprocess import preprocess, read_manifest

    manifest = _corpus(tmp_path / "corpus", [{"audio": "a.wav", "caption": "piano"}])
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("mine")
    code, message = _exit_message(capsys, ["preprocess", "--manifest", str(manifest), "--output-dir", str(other),
                                           "--codec", str(tmp_path / "no-codec-needed-yet")])
    assert code == 2 and "--output-dir" in message and "--overwrite" in message
    assert _snapshot(other) == {"todo.txt": b"mine"}
    codec = AudioCodec(tiny_random_codec())
    summary = preprocess(read_manifest(str(manifest)), codec, str(other), segment_seconds=1.0, min_seconds=0.5,
                         progress=False, overwrite=True)
    assert summary["segments"] == 1 and not (other / "todo.txt").exists()
    # A second run replaces its own output without --overwrite.
    preprocess(read_manifest(str(manifest)), codec, str(other), segment_seconds=1.0, min_seconds=0.5, progress=False)


def _quick_conversion(monkeypatch):
    """A converter whose loading and conversion succeed at once (a tiny random decoder): what is tested is only where
    it writes."""
    from simba_music import SimbaMusicForCausalLM
    from simba_music.conversion import convert
    from tests.conftest import tiny_config

    config = tiny_config()
    monkeypatch.setattr(convert, "load_lightning_checkpoint", lambda path: {"state_dict": {"music_model.x": 0}})
    monkeypatch.setattr(convert, "_model_section", lambda path, checkpoint: {"layers": 2})
    monkeypatch.setattr(convert, "infer_layers", lambda state: 2)
    monkeypatch.setattr(convert, "config_from_original", lambda model_config, state: config)
    monkeypatch.setattr(convert, "convert_decoder_state",
                        lambda state, config, expected: SimbaMusicForCausalLM(config).state_dict())
    return convert.convert_checkpoint


def test_converter_never_deletes_its_own_checkpoint_or_a_foreign_folder(tmp_path, monkeypatch):
    convert_checkpoint = _quick_conversion(monkeypatch)
    source = tmp_path / "src"
    source.mkdir()
    (source / "tiny.ckpt").write_bytes(b"PK\x03\x04 a checkpoint")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("draft")
    before = _snapshot(tmp_path)
    for output, overwrite, expected in [(source, True, "input"), (tmp_path / "mine", False, "--overwrite")]:
        with pytest.raises(ValueError, match=f"--output: .*{expected}"):
            convert_checkpoint(str(source / "tiny.ckpt"), None, str(output), decoder_only=True, verify=False,
                               overwrite=overwrite)
    assert _snapshot(tmp_path) == before
    convert_checkpoint(str(source / "tiny.ckpt"), None, str(tmp_path / "out"), decoder_only=True, verify=False)
    assert (tmp_path / "out" / "conversion_report.json").is_file()


# --- generate --------------------------------------------------------------------------------------------------------

def test_unwritable_spectrogram_is_refused_before_generating(tmp_path, capsys):
    code, message = _exit_message(capsys, ["generate", "piano", "--model", "random", "--output",
                                           str(tmp_path / "keep.wav"), "--spectrogram", "/proc/spec.png",
                                           "--duration", "0.2", "--quiet"])
    assert code == 2 and "--spectrogram" in message and "cannot write" in message
    code, message = _exit_message(capsys, ["generate", "piano", "--model", "random", "--output", "/proc/out.wav",
                                           "--duration", "0.2", "--quiet"])
    assert code == 2 and "--output" in message and "cannot write" in message
    assert list(tmp_path.iterdir()) == []


def test_a_failing_spectrogram_keeps_the_finished_audio(tmp_path, monkeypatch):
    import simba_music.audio.files

    def fails(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(simba_music.audio.files, "write_spectrogram", fails)
    with pytest.raises(OSError, match="disk full"):
        main(["generate", "piano", "--model", "random", "--output", str(tmp_path / "keep.wav"), "--spectrogram",
              str(tmp_path / "spec.png"), "--duration", "0.2", "--quiet"])
    audio, rate = soundfile.read(tmp_path / "keep.wav")
    assert rate == 16000 and audio.shape == (3200,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


@pytest.mark.parametrize("suffix,format", [(".flac", "FLAC"), (".ogg", "OGG"), (".wav", "WAV")])
def test_output_is_written_in_the_format_its_extension_names(tmp_path, suffix, format):
    out = tmp_path / f"out{suffix}"
    assert main(["generate", "piano", "--model", "random", "--output", str(out), "--duration", "0.2",
                 "--quiet"]) == 0
    assert soundfile.info(str(out)).format == format and soundfile.info(str(out)).frames == 3200


def test_an_extension_soundfile_cannot_write_is_refused_by_name(tmp_path, capsys):
    code, message = _exit_message(capsys, ["generate", "piano", "--model", "random", "--output",
                                           str(tmp_path / "out.mp3"), "--duration", "0.2", "--quiet"])
    assert code == 2 and "--output: cannot write '.mp3' files" in message
    assert list(tmp_path.iterdir()) == []


def test_sigterm_removes_the_temporary_file_like_ctrl_c(tmp_path, monkeypatch):
    import os
    import signal

    from simba_music.modeling.conditional_generation import SimbaMusicForConditionalGeneration

    def killed_midway(self, *args, streamer=None, **kwargs):
        streamer.put(torch.zeros(1, 1, 800))  # some audio reached the temporary file
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(SimbaMusicForConditionalGeneration, "generate", killed_midway)
    with pytest.raises(SystemExit) as error:
        main(["generate", "piano", "--model", "random", "--output", str(tmp_path / "out.wav"), "--duration", "0.2",
              "--quiet"])
    assert error.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is restored after generating


# --- train -----------------------------------------------------------------------------------------------------------

from tests.training.test_train import _args, dataset_dir  # noqa: E402,F401  (fixture)


def test_train_with_a_bad_dataset_leaves_an_existing_run_untouched(dataset_dir):  # noqa: F811
    from simba_music.training.train import train

    train(_args(dataset_dir, "run", max_steps=2, save_every=2))
    before = _snapshot(dataset_dir / "run")
    other_config = dataset_dir / "other.json"
    other_config.write_text(json.dumps({**json.loads((dataset_dir / "config.json").read_text()), "hidden_size": 64}))
    with pytest.raises(FileNotFoundError, match="dataset"):
        train(_args(dataset_dir, "run", dataset=str(dataset_dir / "missing"), config=str(other_config), resume=True))
    assert _snapshot(dataset_dir / "run") == before


def test_a_run_folder_refuses_a_new_run_and_a_mismatched_resume(dataset_dir):  # noqa: F811
    from simba_music.training.train import train

    train(_args(dataset_dir, "run", max_steps=4, save_every=4))
    with pytest.raises(ValueError, match="--output-dir: .* holds a run .*--resume"):
        train(_args(dataset_dir, "run", max_steps=2, save_every=2))
    other_config = dataset_dir / "other.json"
    other_config.write_text(json.dumps({**json.loads((dataset_dir / "config.json").read_text()), "hidden_size": 64}))
    with pytest.raises(ValueError, match="--resume: .* another decoder config"):
        train(_args(dataset_dir, "run", max_steps=6, config=str(other_config), resume=True))
    # --overwrite starts afresh: the old run's step-4 can no longer be resumed by mistake.
    train(_args(dataset_dir, "run", max_steps=2, save_every=2, config=str(other_config), overwrite=True))
    assert sorted(p.name for p in (dataset_dir / "run" / "checkpoints").iterdir()) == ["step-2"]


def test_resume_without_a_checkpoint_is_an_error(dataset_dir):  # noqa: F811
    from simba_music.training.train import train

    with pytest.raises(ValueError, match="--resume: no checkpoint in"):
        train(_args(dataset_dir, "fresh", resume=True))
    assert not (dataset_dir / "fresh").exists()


# --- preprocess splits -----------------------------------------------------------------------------------------------

def test_usual_split_names_are_mapped_and_unknown_ones_refused(tmp_path):
    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music.testing_utils import tiny_random_codec
    from simba_music.training.preprocess import preprocess, read_manifest

    rows = [{"audio": f"{name}.wav", "caption": "piano", "split": name} for name in ("train", "valid", "dev", "test")]
    manifest = _corpus(tmp_path / "corpus", rows)
    summary = preprocess(read_manifest(str(manifest)), AudioCodec(tiny_random_codec()), str(tmp_path / "out"),
                         segment_seconds=1.0, min_seconds=0.5, progress=False)
    assert summary["splits"] == {"train": 1, "validation": 2, "test": 1}
    manifest.write_text(manifest.read_text() + json.dumps({"audio": "train.wav", "caption": "x", "split": "holdout"}))
    with pytest.raises(ValueError, match=r"line 5: split 'holdout' is not one of train, validation"):
        read_manifest(str(manifest))
