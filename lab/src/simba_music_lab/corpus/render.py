"""Rendering MIDI to audio with the fluidsynth command-line synthesizer, and cutting renders into fixed-length clips."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# Debian's packages install here (fluid-soundfont-gm, timgm6mb-soundfont).
SOUNDFONTS = {
    "fluid": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "timgm6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
}


def resolve_soundfont(name_or_path: str) -> str:
    path = SOUNDFONTS.get(name_or_path, name_or_path)
    if not os.path.isfile(path):
        raise ValueError(
            f"soundfont: {name_or_path!r} not found at {path}; install it with "
            "`apt-get install fluid-soundfont-gm timgm6mb-soundfont` or pass a .sf2 path"
        )
    # fluidsynth given a file that is no soundfont falls back to its default one without a word, and the corpus
    # summary would name a soundfont that was never used: a SoundFont 2 file is a RIFF chunk of form type 'sfbk'.
    with open(path, "rb") as handle:
        header = handle.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise ValueError(f"soundfont: {path!r} is not a SoundFont 2 (.sf2) file (no RIFF 'sfbk' header)")
    return path


def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None


def render_midi(midi, soundfont: str, sample_rate: int, gain: float = 0.5, timeout_s: float = 300.0) -> np.ndarray:
    """Render a pretty_midi object; returns mono float32 audio at ``sample_rate``, tail included."""
    import soundfile as sf

    if not fluidsynth_available():
        raise RuntimeError("fluidsynth is not on PATH; install it with `apt-get install fluidsynth`")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be >= 8000 (fluidsynth's minimum), got {sample_rate}")
    with tempfile.TemporaryDirectory(prefix="simba-render-") as tmp:
        midi_path = Path(tmp) / "in.mid"
        wav_path = Path(tmp) / "out.wav"
        midi.write(str(midi_path))
        command = [
            "fluidsynth", "-ni", "-q", "-g", str(gain), "-r", str(sample_rate),
            "-F", str(wav_path), soundfont, str(midi_path),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0 or not wav_path.exists():
            raise RuntimeError(f"fluidsynth failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        audio, rate = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz instead of {sample_rate} Hz")
    return audio.mean(axis=1)


def cut_clips(
    audio: np.ndarray,
    music_seconds: float,
    sample_rate: int,
    clip_seconds: float,
    max_clips: int,
    min_fill: float = 0.5,
) -> list[tuple[float, np.ndarray]]:
    """Consecutive non-overlapping clips over the music (not the synth's tail), each exactly ``clip_seconds`` long.

    A last partial clip is kept, zero-padded, only when the music fills at least ``min_fill`` of it; the synth's
    release tail stays in a clip when it falls inside it, which is how real recordings end too.
    Returns (start second, clip) pairs.
    """
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}")
    if max_clips < 1:
        raise ValueError(f"max_clips must be >= 1, got {max_clips}")
    clip_len = int(round(clip_seconds * sample_rate))
    clips = []
    start_s = 0.0
    while len(clips) < max_clips and start_s < music_seconds:
        if (music_seconds - start_s) < min_fill * clip_seconds and clips:
            break
        start = int(round(start_s * sample_rate))
        clip = audio[start : start + clip_len]
        if clip.shape[0] < clip_len:
            clip = np.pad(clip, (0, clip_len - clip.shape[0]))
        clips.append((start_s, clip.astype(np.float32)))
        start_s += clip_seconds
    return clips
