import re

import pytest
import soundfile

from simba_music.cli import main

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def test_generate_with_a_saved_model_writes_wav_and_spectrogram(saved_dir, tmp_path, capsys):
    wav, png = tmp_path / "out.wav", tmp_path / "out.png"
    assert main(["generate", "calm piano", "--model", str(saved_dir), "--output", str(wav), "--duration", "2",
                 "--seed", "3", "--guidance", "2.5", "--spectrogram", str(png), "--quiet"]) == 0
    audio, rate = soundfile.read(wav)
    assert rate == 8000 and audio.shape == (16000,) and abs(audio).max() > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "out.wav"]  # no temporary files left
    assert "wrote" in capsys.readouterr().err
    again = tmp_path / "again.wav"
    main(["generate", "calm piano", "--model", str(saved_dir), "--output", str(again), "--duration", "2",
          "--seed", "3", "--guidance", "2.5", "--quiet"])
    assert (soundfile.read(again)[0] == audio).all()  # same seed, same music


def test_generate_with_model_random_runs_the_labelled_random_model(tmp_path, capsys):
    wav = tmp_path / "demo.wav"
    assert main(["generate", "ambient piano", "--model", "random", "--output", str(wav), "--duration", "0.5",
                 "--quiet"]) == 0
    audio, rate = soundfile.read(wav)
    assert rate == 16000 and audio.shape == (8000,)
    assert "RANDOMLY INITIALISED" in capsys.readouterr().err


def test_generate_without_model_uses_the_shipped_demo(tmp_path, capsys, monkeypatch):
    from simba_music import shipped

    demo = shipped.demo_model_path()
    assert demo is not None, "the demo model ships in src/simba_music/pretrained/simba-music-demo"
    loaded = []
    import transformers

    original = transformers.AutoModelForTextToWaveform.from_pretrained
    monkeypatch.setattr(transformers.AutoModelForTextToWaveform, "from_pretrained",
                        lambda path, *a, **k: loaded.append(str(path)) or original(path, *a, **k))
    wav = tmp_path / "demo.wav"
    assert main(["generate", "Violin performs a slow folk song in D minor; 3/4, 72 BPM.", "--output", str(wav),
                 "--duration", "0.5", "--quiet"]) == 0
    audio, rate = soundfile.read(wav)
    assert loaded == [str(demo)]
    assert rate == 16000 and audio.shape == (8000,) and abs(audio).max() > 1e-3
    assert "RANDOMLY" not in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["generate", "  "], "prompt: it is empty; describe the music, or pass --guidance 0 for unconditional music"),
    (["generate", "piano", "--duration", "0"], "argument --duration: must be in \\(0, 600\\] seconds"),
    (["generate", "piano", "--duration", "601"], "argument --duration: must be in \\(0, 600\\] seconds"),
    (["generate", "piano", "--guidance", "-1"], "argument --guidance: must be a finite number >= 0"),
    (["generate", "piano", "--output", "/nonexistent/dir/out.wav"], "--output: directory of"),
    (["generate", "piano", "--model", "/nonexistent/model"], "--model: cannot load a text-to-music model"),
    (["generate", "piano", "--model", "random", "--key", "C major"],
     "--key: this model's encodec codec does not say which pitches its codes carry"),
])
def test_bad_arguments_exit_2_and_write_nothing(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as error:
        main(arguments + ["--quiet"])
    assert error.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_a_steering_strength_with_nothing_to_steer_is_reported_and_a_tempo_is_steered(tmp_path, capsys):
    wav = tmp_path / "out.wav"
    assert main(["generate", "ambient piano", "--model", "random", "--output", str(wav), "--duration", "0.5",
                 "--key-strength", "3", "--tempo-strength", "3", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "--key-strength has nothing to steer: the prompt states no key the model follows, and --key is not" in err
    assert "--tempo-strength has nothing to steer" in err
    steered = tmp_path / "steered.wav"
    assert main(["generate", "ambient piano", "--model", "random", "--output", str(steered), "--duration", "2",
                 "--tempo", "90", "--tempo-strength", "50", "--quiet"]) == 0
    assert "nothing to steer" not in capsys.readouterr().err
    plain = tmp_path / "plain.wav"
    main(["generate", "ambient piano", "--model", "random", "--output", str(plain), "--duration", "2", "--quiet"])
    assert (soundfile.read(steered)[0] != soundfile.read(plain)[0]).any()  # any codec can be tempo-steered
