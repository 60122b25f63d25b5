import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from simba_music.live_cli import LiveArguments, RealTimePacer, add_live_subcommand, live_arguments, main, run_live

SOURCE = str(Path(__file__).resolve().parents[1] / "src")
RATE = 16000  # --model random: 16 kHz mono, 50 frames/s


def live(monkeypatch, stdin: str = "", **options) -> tuple[int, bytes]:
    """run_live in this process with --model random; returns (exit status, what went to stdout)."""
    stdout = SimpleNamespace(buffer=io.BytesIO(), isatty=lambda: False, fileno=lambda: 1)
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    arguments = dict(prompt="calm piano", model="random", pacing=False, quiet=True, threads=1)
    arguments.update(options)
    return run_live(LiveArguments(**arguments)), stdout.buffer.getvalue()


def test_raw_pcm_on_stdout_is_the_asked_duration(monkeypatch):
    status, pcm = live(monkeypatch, duration=1.3)
    assert status == 0
    samples = np.frombuffer(pcm, dtype="<i2")
    assert samples.size == round(1.3 * RATE) and np.abs(samples).max() > 0


def test_open_length_wav_on_stdout(monkeypatch):
    status, data = live(monkeypatch, duration=0.5, stdout_format="wav")
    assert status == 0 and data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert data[36:44] == b"data\xff\xff\xff\xff" and len(data) == 44 + 2 * RATE // 2
    channels, rate, bits = np.frombuffer(data[22:24], "<u2")[0], np.frombuffer(data[24:28], "<u4")[0], data[34]
    assert (channels, rate, bits) == (1, RATE, 16)


def test_a_file_gets_the_same_audio_as_stdout(monkeypatch, tmp_path):
    _, pcm = live(monkeypatch, duration=1.0, seed=3)
    assert live(monkeypatch, duration=1.0, seed=3, output=str(tmp_path / "out.flac"))[0] == 0
    audio, rate = soundfile.read(tmp_path / "out.flac", dtype="int16")
    # the same samples, up to libsndfile's own float -> int16 rounding (one step at most)
    assert rate == RATE and np.abs(audio.astype(int) - np.frombuffer(pcm, dtype="<i2")).max() <= 1


def test_prompt_lines_on_stdin_steer_and_bad_ones_are_reported(monkeypatch, capsys):
    quiet_off = dict(quiet=False, duration=2.0, pacing=True, lead_seconds=0.2)
    lines = "0.5 jazz; 0.5 piano\n0 jazz; 0 piano\n/guidance 200\n/top-k 5\n/key D minor\n/tempo 400\n/tempo 96\n"
    status, steered = live(monkeypatch, stdin=lines, **quiet_off)
    messages = capsys.readouterr().err
    assert status == 0 and "3 change(s)" in messages
    assert "ignored '0 jazz; 0 piano': weights: at least one must be > 0" in messages
    assert "ignored '/guidance 200': guidance_scale: must be a finite number >= 0 and <= 100" in messages
    # the random model's codec carries no pitch: a key is refused by name and the music goes on
    assert "ignored '/key D minor': key: this model's encodec codec does not say" in messages
    assert "ignored '/tempo 400': tempo_bpm: must be a tempo in [30, 300]" in messages
    assert "live: tempo 96" in messages  # tempo steering needs nothing from the codec
    _, plain = live(monkeypatch, duration=2.0)
    assert len(steered) == len(plain) and steered != plain


def test_pacing_keeps_generation_near_real_time():
    pacer = RealTimePacer(lead_seconds=0.1)
    assert pacer.wait_to_write(0.0) == 0  # playback starts with the first write
    started = time.monotonic()
    assert pacer.wait_to_write(0.5) == 0
    assert 0.35 < time.monotonic() - started < 0.6  # waited until 0.1 s ahead of playback
    time.sleep(0.3)
    assert pacer.wait_to_write(0.6) == 1  # the player ran dry: an underrun


def test_an_existing_output_is_refused_unless_overwrite(monkeypatch, tmp_path, capsys):
    output = tmp_path / "mine.wav"
    output.write_bytes(b"the user's file")
    with pytest.raises(SystemExit) as exit_info:
        main(["calm piano", "--model", "random", "--output", str(output), "--duration", "0.2"])
    assert exit_info.value.code == 2 and "--output: " in capsys.readouterr().err
    assert output.read_bytes() == b"the user's file"
    assert live(monkeypatch, output=str(output), duration=0.2, overwrite=True)[0] == 0
    assert soundfile.info(str(output)).frames == round(0.2 * RATE)


@pytest.mark.parametrize(("options", "message"), [
    (dict(prompt="0.5 harp; -1 organ"), "weights: each must be a finite number >= 0"),
    (dict(output="song.mp3"), "--output: cannot write '.mp3' files"),
    (dict(duration=0.0), r"--duration: must be > 0"),
    (dict(seed=-3), r"--seed: must be an int in \[0, 2\*\*64\)"),
    (dict(lead_seconds=0.0), r"--lead-seconds: must be in \[0.1, 60\]"),
    (dict(guidance=500.0), "guidance_scale: must be a finite number >= 0 and <= 100"),
    (dict(chunk_seconds=0.0), r"--chunk-seconds: must be a number of seconds in \(0, 60\]"),
    (dict(key="C dorian"), "--key: expected '<tonic> major' or '<tonic> minor'"),
    (dict(key_strength=-2.0), r"--key-strength: must be in \[0, 50\]"),
    (dict(tempo=12.0), r"--tempo: must be a tempo in \[30, 300\]"),
    (dict(tempo_strength=99.0), r"--tempo-strength: must be in \[0, 50\]"),
])
def test_bad_options_are_refused_by_name(monkeypatch, options, message):
    with pytest.raises(ValueError, match=message):
        live(monkeypatch, **options)


def test_the_subcommand_builds_from_the_dataclass():
    import argparse

    parser = argparse.ArgumentParser(prog="simba-music")
    add_live_subcommand(parser.add_subparsers(dest="command"))
    namespace = parser.parse_args(["live", "0.7 harp; 0.3 organ", "-o", "x.wav", "--no-pacing", "--top-k", "50"])
    assert live_arguments(namespace) == LiveArguments(prompt="0.7 harp; 0.3 organ", output="x.wav", pacing=False,
                                                      top_k=50)
    assert namespace.run == "simba_music.live_cli:run_command"  # imported only when it runs


def _default_hangup_and_interrupt():
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "suffix"), [(signal.SIGTERM, ".wav"), (signal.SIGHUP, ".flac"),
                                              (signal.SIGINT, ".wav")])
def test_a_stopped_stream_leaves_a_valid_audio_file(tmp_path, stop, suffix):
    """A separate process plays into a file; killed mid-stream it exits 128 + the signal, and the file reads back
    whole (the header tells the length written)."""
    output = tmp_path / f"live{suffix}"
    command = [sys.executable, "-m", "simba_music.live_cli", "calm piano", "--model", "random", "--output",
               str(output), "--lead-seconds", "0.5", "--quiet", "--threads", "1"]
    environment = {**os.environ, "PYTHONPATH": SOURCE, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    # The player's signals as a terminal leaves them: under nohup SIGHUP is ignored, in a shell's background job
    # SIGINT is, and a child keeps ignoring what its parent ignored
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
                               preexec_fn=_default_hangup_and_interrupt)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (output.exists() and output.stat().st_size > 2 * RATE):
        time.sleep(0.2)  # until about 1 s of audio is there: it is playing in real time
    process.send_signal(stop)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 128 + stop, errors.decode()
    audio, rate = soundfile.read(str(output))
    assert rate == RATE and len(audio) >= RATE and np.abs(audio).max() > 0
    if suffix == ".wav":  # libsndfile forgives a stale header; the wave module reads the length the header says
        import wave

        with wave.open(str(output)) as header:
            assert header.getnframes() == len(audio)
    else:  # an unfinished FLAC says nothing of its length (soundfile then reports 2**63 - 1 frames)
        assert soundfile.info(str(output)).frames == len(audio)
