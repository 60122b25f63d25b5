"""What the demo app does, without gradio: check a request, generate with streaming, write the WAV and spectrogram.

Kept apart from the page so that the checks and the generation loop are testable without a browser, and so that
every bad value is refused with a message naming the field before any work starts.
"""

from __future__ import annotations

import errno
import math
import random
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..modeling.values import check_guidance_scale, check_seed, saved_generation_defaults

MAX_PROMPT_CHARS = 500
MAX_APP_DURATION_S = 30.0  # a shared demo keeps requests short; the library itself allows config.max_duration_s
BROWSER_EXACT_INTEGER = 2**53 - 1  # the largest seed a browser's number field keeps exactly
RANDOM_SEED_RANGE = 2**31 - 1  # "random seed" draws from [0, this]; any seed check_seed takes is accepted
MAX_QUEUE = 16  # requests waiting behind the one running; more are turned away
MAX_UPLOAD = "4kb"  # gradio's upload limit; the upload routes are refused outright anyway (ui.RefuseUploads)


def _limits_help() -> str:
    from .store import MAX_STORED_BYTES, MAX_STORED_FILES

    return (f"One request runs at a time and at most {MAX_QUEUE} wait; more are turned away. Requests are at most "
            f"{MAX_APP_DURATION_S:g} s of audio. The newest {MAX_STORED_FILES // 2} results (at most "
            f"{MAX_STORED_BYTES // 2**20} MB) are kept for download and deleted when the server stops; nothing can "
            "be uploaded.")


LIMITS_HELP = _limits_help()  # for the page and `simba-music demo --help`


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
    from ..modeling.processing import check_prompts

    try:
        check_prompts(prompt)
    except ValueError as error:  # the API takes any string, "\ud800 piano" too
        raise ValueError(f"Prompt: {str(error).split(': ', 1)[1]}") from None
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
    from ..validation import check_number

    return check_number(field, value, low, high, low_open)


def check_model_folder(model) -> Path:
    """The demo's model folder (None or "simba-music-demo": the shipped demo). The server runs offline, so a name
    that is not a saved model folder is refused here, before anything loads."""
    from huggingface_hub import constants
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from ..shipped import DEMO_MODEL, resolve_model

    path = resolve_model(model)
    if path is None:
        raise ValueError("--model: no model folder given and the shipped demo model is missing from this install")
    if (Path(path) / "config.json").is_file():
        return Path(path)
    if not Path(path).exists() and "/" in str(path) and not constants.HF_HUB_OFFLINE:
        try:
            validate_repo_id(str(path))
            return Path(path)  # a Hub id (a Space may serve one): from_pretrained fetches it
        except HFValidationError:
            pass
    offline = " (the Hub is offline, HF_HUB_OFFLINE=1)" if constants.HF_HUB_OFFLINE else ""
    raise ValueError(f"--model: {str(model)!r} is not a saved text-to-music model folder (no config.json) nor a Hub "
                     f"id 'owner/name'{offline}; give a folder saved with save_pretrained, or {DEMO_MODEL!r}")


def check_server_options(host: str, port: int, model=None) -> Path:
    """--host, --port and --model checked before the model loads: the host must be an address of this machine (or a
    name resolving to one), the port in [1, 65535] and free there. Returns the model folder."""
    import socket

    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"--port: must be an integer in [1, 65535], got {port!r}")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError, TypeError) as error:
        raise ValueError(f"--host: {host!r} is not an address or a host name that resolves ({error})") from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as error:
            option = "--port" if error.errno == errno.EADDRINUSE else "--host"
            raise ValueError(f"{option}: cannot serve on {host}:{port} ({error.strerror or error})") from None
    return check_model_folder(model)


class MusicSession:
    """The loaded model and processor, plus the bounded store its results are written to (`store.ResultStore`,
    made under `output_dir`, default the temporary folder)."""

    def __init__(self, model_dir=None, output_dir=None, store=None):
        from transformers import AutoModelForTextToWaveform, AutoProcessor

        import simba_music  # noqa: F401  (registers the auto classes)

        from .store import ResultStore

        self.model_dir = check_model_folder(model_dir)
        self.defaults = saved_generation_defaults(self.model_dir)
        self.model = AutoModelForTextToWaveform.from_pretrained(self.model_dir).eval()
        self.processor = AutoProcessor.from_pretrained(self.model_dir)
        self.sampling_rate = self.model.config.sampling_rate
        # Made last: a model that fails to load leaves no store behind.
        self.store = store or ResultStore(output_dir)
        self.output_dir = self.store.root

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
                                    seed=request.seed, **self.model.caption_steering([request.prompt]),
                                    streamer=streamer, return_audio=False, progress_bar=False)
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

        stem = self.store.new_stem(request.seed)
        wav, png = stem.with_suffix(".wav"), stem.with_suffix(".png")
        # The WAV holds exactly the samples that were streamed to the page.
        soundfile.write(str(wav), _pcm16(audio), self.sampling_rate, subtype="PCM_16")
        write_spectrogram(png, audio, self.sampling_rate, title=request.prompt[:80])
        self.store.trim(keep=(wav, png))
        return str(wav), str(png)


def _pcm16(samples: np.ndarray) -> np.ndarray:
    pcm = np.rint(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    return pcm[:, 0] if pcm.shape[1] == 1 else pcm


__all__ = ["LIMITS_HELP", "MAX_APP_DURATION_S", "MAX_QUEUE", "MusicSession", "Request", "check_model_folder",
           "check_request", "check_server_options"]
