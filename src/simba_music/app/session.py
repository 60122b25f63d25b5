"""What the demo app does, without gradio: check a request, generate with streaming, write the WAV and spectrogram.

Kept apart from the page so that the checks and the generation loop are testable without a browser, and so that
every bad value is refused with a message naming the field before any work starts.
"""

from __future__ import annotations

import math
import random
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..modeling.values import check_guidance_scale, check_seed, saved_generation_defaults

MAX_PROMPT_CHARS = 500
MAX_APP_DURATION_S = 30.0  # a shared demo keeps requests short; the library itself allows config.max_duration_s
BROWSER_EXACT_INTEGER = 2**53 - 1  # the largest seed a browser's number field keeps exactly
RANDOM_SEED_RANGE = 2**31 - 1  # "random seed" draws from [0, this]; any seed check_seed takes is accepted


@dataclass(frozen=True)
class Request:
    prompt: str
    duration: float
    guidance_scale: float
    temperature: float
    seed: int


def check_request(prompt, duration, guidance_scale, temperature, seed, random_seed=False) -> Request:
    """The form's values as a Request; a ValueError naming the field for anything out of range."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("Prompt: describe the music (for example an instrument, a key and a tempo); it is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"Prompt: at most {MAX_PROMPT_CHARS} characters, got {len(prompt)}")
    duration = _number("Duration", duration, low=0.0, high=MAX_APP_DURATION_S, low_open=True)
    guidance_scale = check_guidance_scale(_number("Guidance", guidance_scale), "Guidance")
    temperature = _number("Temperature", temperature, low=0.0, high=5.0, low_open=True)
    if random_seed:
        seed = random.randint(0, RANDOM_SEED_RANGE)
    seed = _number("Seed", seed)
    if seed != int(seed):
        raise ValueError(f"Seed: must be a whole number, got {seed:g}")
    return Request(prompt.strip(), duration, guidance_scale, temperature, check_seed(int(seed), "Seed"))


def _number(field, value, low=-math.inf, high=math.inf, low_open=False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: must be a number, got {value!r}") from None
    below = number <= low if low_open else number < low
    if not math.isfinite(number) or below or number > high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{field}: must be in {interval}, got {number:g}")
    return number


class MusicSession:
    """The loaded model and processor, plus where results are written."""

    def __init__(self, model_dir=None, output_dir=None):
        from transformers import AutoModelForTextToWaveform, AutoProcessor

        import simba_music  # noqa: F401  (registers the auto classes)

        from ..shipped import demo_model_path

        self.model_dir = Path(model_dir) if model_dir is not None else demo_model_path()
        if self.model_dir is None:
            raise FileNotFoundError("model: no model folder given and the shipped demo model is missing")
        self.defaults = saved_generation_defaults(self.model_dir)
        self.model = AutoModelForTextToWaveform.from_pretrained(self.model_dir).eval()
        self.processor = AutoProcessor.from_pretrained(self.model_dir)
        self.sampling_rate = self.model.config.sampling_rate
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="simba-music-demo-"))
        self.output_dir.mkdir(parents=True, exist_ok=True)

    def stream(self, request: Request):
        """Yields int16 audio chunks [samples] or [samples, channels] while generating, then returns
        `(wav_path, png_path)` (as the StopIteration value)."""
        from ..modeling.streaming import AudioIteratorStreamer

        streamer = AudioIteratorStreamer(timeout=600)
        failure = []

        def run():
            try:
                self.model.generate(**self.processor([request.prompt]), duration=request.duration,
                                    guidance_scale=request.guidance_scale, temperature=request.temperature,
                                    seed=request.seed, streamer=streamer, return_audio=False, progress_bar=False)
            except Exception as error:  # handed to the caller, who shows it; the streamer must still end
                failure.append(error)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        chunks = []
        for chunk in streamer:
            samples = chunk[0].T.float().cpu().numpy()  # [samples, channels]
            chunks.append(samples)
            yield _pcm16(samples)
        worker.join()
        if failure:
            raise failure[0]
        audio = np.concatenate(chunks, axis=0)
        return self._write(request, audio)

    def _write(self, request: Request, audio: np.ndarray):
        import soundfile

        from ..audio.files import write_spectrogram

        stem = self.output_dir / f"simba-music-seed{request.seed}-{len(list(self.output_dir.glob('*.wav')))}"
        wav, png = stem.with_suffix(".wav"), stem.with_suffix(".png")
        # The WAV holds exactly the samples that were streamed to the page.
        soundfile.write(str(wav), _pcm16(audio), self.sampling_rate, subtype="PCM_16")
        write_spectrogram(png, audio, self.sampling_rate, title=request.prompt[:80])
        return str(wav), str(png)


def _pcm16(samples: np.ndarray) -> np.ndarray:
    pcm = np.rint(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    return pcm[:, 0] if pcm.shape[1] == 1 else pcm


__all__ = ["MAX_APP_DURATION_S", "MusicSession", "Request", "check_request"]
