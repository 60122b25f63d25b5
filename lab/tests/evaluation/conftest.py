import json

import numpy as np
import pytest
import soundfile

from simba_music.testing_utils import tiny_model_and_processor as build

RATE = 16000


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One thread per test, as for the other generation tests (the `one_thread` fixture of tests/conftest.py)."""


def tone(frequencies, seconds: float, rate: int = RATE, harmonics: int = 4) -> np.ndarray:
    """Notes with decaying overtones (like a real instrument), summed, with a short fade in and out."""
    t = np.arange(int(seconds * rate)) / rate
    audio = sum(0.6 ** (h - 1) * np.sin(2 * np.pi * f * h * t) for f in frequencies for h in range(1, harmonics + 1))
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    return 0.1 * audio * fade


def midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def progression(chords, seconds_per_chord: float = 1.0) -> np.ndarray:
    """Chords given as MIDI note lists -> audio at RATE."""
    return np.concatenate([tone([midi_hz(n) for n in chord], seconds_per_chord) for chord in chords])


def click_track(bpm: float, seconds: float = 10.0, rate: int = RATE) -> np.ndarray:
    audio = np.zeros(int(seconds * rate))
    click = np.sin(2 * np.pi * 1000 * np.arange(int(0.03 * rate)) / rate) * np.exp(-np.arange(int(0.03 * rate)) / 80)
    for start in np.arange(0.0, seconds - 0.05, 60.0 / bpm):
        index = int(start * rate)
        audio[index:index + click.size] += click
    return audio


def build_tiny(num_codebooks: int = 1):
    """The tiny random composite of tests/text_to_music (T5 text encoder, Prefix SiMBA decoder, EnCodec with
    randomized codebooks) and its processor."""
    return build("t5", num_codebooks=num_codebooks)


def save_dataset(directory, codes, captions, split: str = "validation") -> str:
    from datasets import Dataset, DatasetDict

    DatasetDict({split: Dataset.from_dict({"codes": codes, "caption": captions})}).save_to_disk(str(directory))
    return str(directory)


def write_manifest(directory, clips) -> str:
    """clips: (audio array at RATE, metadata dict) pairs -> a corpus-style manifest.jsonl with WAV files."""
    rows = []
    for index, (audio, metadata) in enumerate(clips):
        name = f"clip{index}.wav"
        soundfile.write(str(directory / name), audio.astype(np.float32), RATE)
        rows.append({"audio": name, "caption": f"clip {index}", **metadata})
    path = directory / "manifest.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)
