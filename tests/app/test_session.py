"""The demo app's logic without a browser: input checks, saved defaults, streamed generation and written files."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

import simba_music
from simba_music.app.session import MAX_APP_DURATION_S, MusicSession, check_request
from simba_music.modeling.values import saved_generation_defaults


@pytest.mark.parametrize("values, message", [
    (("", 2, 5, 1, 0), "Prompt: describe the music"),
    (("   ", 2, 5, 1, 0), "Prompt: describe the music"),
    (("x" * 501, 2, 5, 1, 0), "Prompt: at most 500 characters, got 501"),
    (("piano", 0, 5, 1, 0), r"Duration: must be in \(0, 30\], got 0"),
    (("piano", MAX_APP_DURATION_S + 1, 5, 1, 0), r"Duration: must be in \(0, 30\], got 31"),
    (("piano", "abc", 5, 1, 0), "Duration: must be a number, got 'abc'"),
    (("piano", 2, -1, 1, 0), r"Guidance: must be a finite number >= 0 and <= 100 .*, got -1"),
    (("piano", 2, float("nan"), 1, 0), "Guidance: must be in"),
    (("piano", 2, 5, 0, 0), r"Temperature: must be in \(0, 5\], got 0"),
    (("piano", 2, 5, 1, 1.5), "Seed: must be a whole number, got 1.5"),
    (("piano", 2, 5, 1, -3), r"Seed: must be an int in \[0, 2\*\*64\)"),
])
def test_bad_input_names_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        check_request(*values)


def test_random_seed_replaces_the_seed_and_values_are_kept():
    request = check_request(" piano ", 2, 5, 1.0, 7)
    assert (request.prompt, request.duration, request.guidance_scale, request.temperature, request.seed) == \
        ("piano", 2.0, 5.0, 1.0, 7)
    seeds = {check_request("piano", 2, 5, 1, 7, random_seed=True).seed for _ in range(5)}
    assert len(seeds) > 1  # drawn afresh each time (5 equal draws from 2**31 would be a broken generator)


def test_defaults_come_from_the_saved_generation_config(tmp_path):
    demo = simba_music.demo_model_path()
    saved = json.loads((demo / "generation_config.json").read_text())
    defaults = saved_generation_defaults(demo)
    assert defaults["guidance_scale"] == saved["guidance_scale"] == 5.0
    assert defaults["temperature"] == saved["temperature"]
    assert defaults["duration"] == saved["max_new_tokens"] / 50  # 50 codec frames per second
    (tmp_path / "generation_config.json").write_text(json.dumps({"guidance_scale": 2.5}))
    assert saved_generation_defaults(tmp_path)["guidance_scale"] == 2.5
    assert saved_generation_defaults(tmp_path / "missing")["source"] == "the paper's defaults"


def test_stream_yields_chunks_that_add_up_to_the_written_wav(tmp_path):
    session = MusicSession(output_dir=tmp_path)
    chunks = []
    stream = session.stream(check_request("Solo flute plays a lively folk song in G major; 6/8, 100 BPM.",
                                          1.0, 5, 1, 3))
    try:
        while True:
            chunks.append(next(stream))
    except StopIteration as finished:
        wav, png = finished.value
    assert len(chunks) >= 1 and all(chunk.dtype == np.int16 for chunk in chunks)
    audio, rate = soundfile.read(wav, dtype="int16")
    assert rate == 16000 and audio.shape == (16000,)
    np.testing.assert_array_equal(audio, np.concatenate(chunks))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_importing_the_library_never_imports_gradio():
    import subprocess
    import sys

    code = "import sys, simba_music, simba_music.cli; print('gradio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "False", result.stderr[-2000:]
