"""Bad values, hostile configs, full disks and signals get a clear answer before any work (issue 32). Each case
failed on main bd6d20f: accepted silently, a traceback, or an error only after the run folder was written."""

import errno
import json
import os
import signal

import numpy as np
import pytest
import soundfile

from simba_music.io_utils import OutputError, exclusive_lock, output_errors, terminate_as_exception
from tests.training.test_train import _args, dataset_dir  # noqa: F401  (fixture)


def _train_refused(root, message, **overrides):
    from simba_music.training.train import train

    with pytest.raises(ValueError, match=message):
        train(_args(root, "run", **overrides))
    assert not (root / "run").exists()  # refused before anything was written


# --- training values -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    (dict(learning_rate=float("inf")), r"--learning-rate: must be in \(0, inf\), got inf"),
    (dict(learning_rate=float("nan")), "--learning-rate: must be in"),
    (dict(weight_decay=float("nan")), r"--weight-decay: must be in \[0, inf\)"),
    (dict(max_grad_norm=float("nan")), "--max-grad-norm: must be in"),
    (dict(label_smoothing=-1), r"--label-smoothing: must be in \[0, 1\), got -1"),
    (dict(label_smoothing=5), r"--label-smoothing: must be in \[0, 1\), got 5"),
    (dict(warmup_steps=-5), r"--warmup-steps: must be in \[0, inf\), got -5"),
    (dict(min_learning_rate=float("inf")), "--min-learning-rate: must be in"),
    (dict(min_learning_rate=1.0), "--min-learning-rate: must be <= --learning-rate"),
    (dict(adam_epsilon=0.0), "--adam-epsilon: must be in"),
])
def test_training_values_are_checked_before_any_work(dataset_dir, overrides, message):  # noqa: F811
    _train_refused(dataset_dir, message, **overrides)


def test_a_config_key_typo_is_refused_with_the_closest_field(dataset_dir):  # noqa: F811
    config = json.loads((dataset_dir / "config.json").read_text())
    (dataset_dir / "typo.json").write_text(json.dumps({**config, "num_hiden_layers": 8}))
    _train_refused(dataset_dir, "--config .*typo.json.*unknown key 'num_hiden_layers' "
                                r"\(did you mean 'num_hidden_layers'\?\)", config=str(dataset_dir / "typo.json"))


def test_a_config_whose_text_width_differs_from_the_cached_states_is_refused_before_writing(dataset_dir):  # noqa: F811
    config = json.loads((dataset_dir / "config.json").read_text())
    (dataset_dir / "wide.json").write_text(json.dumps({**config, "text_hidden_size": 32}))
    _train_refused(dataset_dir, "text_hidden_size: the decoder takes 32-wide .* cached text_states is 24",
                   config=str(dataset_dir / "wide.json"))


def test_a_config_that_is_not_json_names_the_file(dataset_dir, monkeypatch):  # noqa: F811
    (dataset_dir / "bad.json").write_text("{hidden_size: 8")
    _train_refused(dataset_dir, "--config: .*bad.json' is not valid JSON", config=str(dataset_dir / "bad.json"))
    from simba_music.conversion import convert

    (dataset_dir / "tiny.ckpt").write_bytes(b"x")
    monkeypatch.setattr(convert, "load_lightning_checkpoint", lambda path: {"state_dict": {"music_model.x": 0}})
    with pytest.raises(ValueError, match="--config: .*bad.json' is not valid JSON"):
        convert.convert_checkpoint(str(dataset_dir / "tiny.ckpt"), str(dataset_dir / "bad.json"),
                                   str(dataset_dir / "out"), verify=False)
    assert not (dataset_dir / "out").exists()


@pytest.mark.parametrize("field, value", [("hidden_size", 10**9), ("num_hidden_layers", 100_000)])
def test_sizes_beyond_memory_are_refused_naming_the_parameter(dataset_dir, field, value):  # noqa: F811
    config = json.loads((dataset_dir / "config.json").read_text())
    # The demo decoder's width: 100,000 blocks of it are about 400 GB (of the tiny config's, the modules alone take
    # 7 GB and 15 minutes to build: not a test to run by mistake).
    (dataset_dir / "huge.json").write_text(json.dumps({**config, "hidden_size": 256, field: value}))
    _train_refused(dataset_dir, f"{field}: {value} .* more than this machine's", config=str(dataset_dir / "huge.json"))


def test_a_text_max_length_beyond_the_text_encoders_positions_is_refused():
    from simba_music.testing_utils import tiny_text_to_music

    config = tiny_text_to_music("bert").config.to_dict()
    limit = config["text_encoder"]["max_position_embeddings"]
    from simba_music.modeling.configuration_simba_music import SimbaMusicForConditionalGenerationConfig

    with pytest.raises(ValueError, match=f"text_max_length: must be at most .*max_position_embeddings={limit}"):
        SimbaMusicForConditionalGenerationConfig.from_dict({**config, "text_max_length": 100_000})


def test_a_resume_with_changed_settings_says_what_changes(dataset_dir):  # noqa: F811
    from simba_music.training.train import train

    train(_args(dataset_dir, "run", max_steps=2, save_every=2))
    for changed, message in [(dict(learning_rate=1e-2), "--learning-rate 0.003 -> 0.01"),
                             (dict(batch_size=4), "--batch-size 2 -> 4"), (dict(max_steps=4), "--max-steps 2 -> 4")]:
        with pytest.raises(ValueError, match=f"--resume: the run started with other settings .*{message}"
                                             ".*--change-settings"):
            train(_args(dataset_dir, "run", save_every=2, resume=True, **{"max_steps": 2, **changed}))
    assert train(_args(dataset_dir, "run", max_steps=4, save_every=2, resume=True, change_settings=True))["steps"] == 4


def test_a_second_train_into_a_folder_in_use_is_refused(dataset_dir):  # noqa: F811
    from simba_music.training.train import train

    (dataset_dir / "run").mkdir()
    with exclusive_lock(dataset_dir / "run", "--output-dir"), \
            pytest.raises(ValueError, match=f"--output-dir: .* is in use by another simba-music process \\(pid "
                                            f"{os.getpid()}\\)"):
        train(_args(dataset_dir, "run", max_steps=2))
    assert not (dataset_dir / "run" / "checkpoints").exists()


def test_push_to_hub_offline_is_refused_before_the_work(dataset_dir):  # noqa: F811
    _train_refused(dataset_dir, "--push-to-hub: cannot upload to the Hub", push_to_hub="someone/x")


# --- which codec made a dataset ---------------------------------------------------------------------------------------

def _tone(path, rate=16000, seconds=1.2, amplitude=0.3):
    soundfile.write(path, (amplitude * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(
        np.float32), rate)


def test_a_dataset_remembers_its_codec_and_another_codecs_model_is_refused(tmp_path):
    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music.testing_utils import tiny_random_codec
    from simba_music.training.codec_record import check_dataset_codec, codec_identity, write_model_codec
    from simba_music.training.preprocess import preprocess

    _tone(tmp_path / "a.wav")
    codec, other = tiny_random_codec(0), tiny_random_codec(1)
    preprocess([{"audio": str(tmp_path / "a.wav"), "caption": "piano"}], AudioCodec(codec), str(tmp_path / "data"),
               segment_seconds=1.0, min_seconds=0.5, progress=False)
    assert json.loads((tmp_path / "data" / "summary.json").read_text())["codec"] == codec_identity(codec)
    check_dataset_codec(tmp_path / "data", codec)  # the same codec: accepted
    with pytest.raises(ValueError, match="--dataset: .* was encoded with the codec .* but the model uses"):
        check_dataset_codec(tmp_path / "data", AudioCodec(other))
    (tmp_path / "decoder").mkdir()
    write_model_codec(tmp_path / "decoder", codec_identity(other))
    with pytest.raises(ValueError, match="but the decoder in .* uses"):
        check_dataset_codec(tmp_path / "data", tmp_path / "decoder")


def test_init_from_the_demo_name_uses_its_decoder_and_a_composite_folder_is_refused(dataset_dir):  # noqa: F811
    from simba_music.shipped import demo_model_path
    from simba_music.training.train import _build_model

    _train_refused(dataset_dir, "--init-from: .* is a text-to-music \\(composite\\) folder; a decoder folder is "
                                "expected", config=None, init_from=str(demo_model_path()))
    model, codec = _build_model(_args(dataset_dir, "run", config=None, init_from="simba-music-demo"),
                                dataset_dir / "run")
    assert model.config.model_type == "simba_music" and codec["name"] == "simba-music-demo"


# --- transfer-vocabulary's audio -------------------------------------------------------------------------------------

def test_transfer_vocabulary_skips_silent_nan_and_corrupt_audio_with_a_count(tmp_path):
    from simba_music.testing_utils import tiny_text_to_music, tiny_wavtokenizer
    from simba_music.training.vocabulary_transfer import VocabularyTransferArguments, run

    tiny_text_to_music().save_pretrained(tmp_path / "model")
    tiny_wavtokenizer(codebook_size=48).save_pretrained(tmp_path / "codec")
    bad = tmp_path / "bad"
    bad.mkdir()
    soundfile.write(bad / "silent.wav", np.zeros(16000, np.float32), 8000)
    soundfile.write(bad / "nan.wav", np.full(16000, np.nan, np.float32), 8000, subtype="FLOAT")
    (bad / "corrupt.wav").write_bytes(b"RIFF not really")

    def transfer(audio, output):
        return run(VocabularyTransferArguments(model=str(tmp_path / "model"), codec=str(tmp_path / "codec"),
                                               audio=audio, output_dir=str(tmp_path / output), progress=False))

    with pytest.raises(ValueError, match="--audio: none of the 3 file"), pytest.warns(UserWarning):
        transfer((str(bad),), "from-silence")
    assert not (tmp_path / "from-silence").exists()  # never a warm start from silence
    _tone(bad / "tone.wav", rate=8000, seconds=2.5)
    with pytest.warns(UserWarning, match="--audio: 3 of 4 file"):
        summary = transfer((str(bad),), "warm")
    assert summary["files"] == 1 and summary["skipped_count"] == 3
    # A manifest whose rows have no split: every row is a training row, as preprocess reads it.
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio": "bad/tone.wav", "caption": "a tone"}) + "\n")
    assert transfer((str(tmp_path / "m.jsonl"),), "from-manifest")["files"] == 1
    record = json.loads((tmp_path / "warm" / "simba-music-codec.json").read_text())
    assert record["name"] == "codec" and len(record["sha256"]) == 64


# --- prompts, signals, disks -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["solo piano \udcff in G", "\ud800 piano"])
def test_a_prompt_that_is_not_text_is_refused_before_the_model_loads(tmp_path, capsys, prompt):
    from simba_music.cli import main

    with pytest.raises(SystemExit) as error:
        main(["generate", prompt, "--model", str(tmp_path / "not-loaded"), "--output", str(tmp_path / "o.wav")])
    message = capsys.readouterr().err
    assert error.value.code == 2 and "text[0]: the prompt holds" in message and "not-loaded" not in message


def test_sighup_removes_temporary_files_like_sigterm(tmp_path):
    from simba_music.io_utils import atomic_path

    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal (under nohup it is ignored)
    try:
        with (pytest.raises(SystemExit) as stopped, terminate_as_exception(),
              atomic_path(tmp_path / "out.wav") as temp):
            temp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGHUP)
        assert stopped.value.code == 128 + signal.SIGHUP and list(tmp_path.iterdir()) == []
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_hangup_the_process_ignores_stays_ignored(tmp_path):
    """`nohup simba-music generate ...`: closing the terminal must not stop the run."""
    from simba_music.io_utils import atomic_path

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with terminate_as_exception(), atomic_path(tmp_path / "out.wav") as temp:
            temp.write_bytes(b"whole")
            os.kill(os.getpid(), signal.SIGHUP)  # ignored: the block goes on
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert (tmp_path / "out.wav").read_bytes() == b"whole"
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   OSError(errno.EROFS, "Read-only file system"),
                                   RuntimeError("Error while serializing: IoError(Os { code: 28 })")])
def test_a_full_or_read_only_disk_is_one_line_naming_the_option(tmp_path, monkeypatch, error):
    from datasets import DatasetDict

    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music.testing_utils import tiny_random_codec
    from simba_music.training.preprocess import PreprocessArguments, run

    _tone(tmp_path / "a.wav")
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio": "a.wav", "caption": "piano"}) + "\n")
    monkeypatch.setattr("simba_music.training.preprocess._load_codec", lambda path, n: AudioCodec(tiny_random_codec()))

    def fails(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(DatasetDict, "save_to_disk", fails)
    with pytest.raises(OutputError, match=r"^--output-dir: cannot write .*out': the .* \(") as raised:
        run(PreprocessArguments(manifest=str(tmp_path / "m.jsonl"), output_dir=str(tmp_path / "out"), codec="x",
                                segment_seconds=1.0, min_seconds=0.5, progress=False))
    assert "\n" not in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "m.jsonl"]  # nothing half-written


def test_other_errors_pass_through_output_errors(tmp_path):
    with pytest.raises(KeyError), output_errors(tmp_path, "--output"):
        raise KeyError("not an OS error")
    with pytest.raises(FileNotFoundError), output_errors(tmp_path, "--output"):
        raise FileNotFoundError(errno.ENOENT, "an input is missing")


def test_convert_without_decoder_only_offline_names_the_text_encoder_before_the_work(tmp_path, monkeypatch):
    from simba_music.conversion import convert

    def never(*args):
        raise AssertionError("the conversion started before the text encoder was checked")

    monkeypatch.setattr(convert, "load_lightning_checkpoint", lambda path: {"state_dict": {"music_model.x": 0}})
    monkeypatch.setattr(convert, "_model_section", lambda path, checkpoint: {"layers": 2})
    monkeypatch.setattr(convert, "infer_layers", lambda state: 2)
    monkeypatch.setattr(convert, "config_from_original", never)
    (tmp_path / "tiny.ckpt").write_bytes(b"x")
    with pytest.raises(ValueError, match="--text-encoder: cannot load 'someone/not-cached' .*--decoder-only"):
        convert.convert_checkpoint(str(tmp_path / "tiny.ckpt"), None, str(tmp_path / "out"),
                                   text_encoder="someone/not-cached")
    assert not (tmp_path / "out").exists()


def test_generate_keeps_a_users_file_and_replaces_its_own(tmp_path, capsys):
    from simba_music.cli import main

    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF my recording")
    with pytest.raises(SystemExit) as error:
        main(["generate", "piano", "--model", "random", "--output", str(song), "--duration", "0.2", "--quiet"])
    assert error.value.code == 2 and "simba-music did not write it" in capsys.readouterr().err
    assert song.read_bytes() == b"RIFF my recording"
    out = tmp_path / "out.wav"
    for _ in range(2):  # the second run replaces the first one's file
        assert main(["generate", "piano", "--model", "random", "--output", str(out), "--duration", "0.2",
                     "--quiet"]) == 0


def test_the_demo_speaks_the_shipped_codec_by_its_record():
    """A dataset preprocessed with the shipped codec folder is accepted for --init-from simba-music-demo: the
    composite's codec and the codec folder hash alike (stored tensors, before weight norm is baked in)."""
    from transformers import AutoModelForTextToWaveform

    from simba_music.shipped import demo_model_path, shipped_path
    from simba_music.training.codec_record import codec_identity
    from simba_music.training.preprocess import _load_codec

    demo = codec_identity(AutoModelForTextToWaveform.from_pretrained(demo_model_path()))
    assert _load_codec(str(shipped_path("pitch-codec-16khz")), 1).identity["sha256"] == demo["sha256"]


def test_a_missing_codec_is_named(tmp_path):
    from simba_music.training.preprocess import PreprocessArguments, run

    _tone(tmp_path / "a.wav")
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio": "a.wav", "caption": "piano"}) + "\n")
    with pytest.raises(ValueError, match="--codec: cannot load a codec from .*missing"):
        run(PreprocessArguments(manifest=str(tmp_path / "m.jsonl"), output_dir=str(tmp_path / "out"),
                                codec=str(tmp_path / "missing")))
    assert not (tmp_path / "out").exists()


def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    """Root ignores permissions, so the read-only file system is simulated where the probe makes its folder."""
    import simba_music.io_utils as io_utils
    from simba_music.training.train import train

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(io_utils.tempfile, "mkdtemp", read_only)
    with pytest.raises(ValueError, match="--output-dir: cannot write in .* \\(Read-only file system\\)"):
        train(_args(tmp_path, "run", dataset=str(tmp_path / "never-read")))
