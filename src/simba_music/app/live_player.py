"""The demo page's live stream, without gradio: started, steered and stopped by page events from any thread.

One stream at a time per page server (the CPU plays one in real time at most); starting another stops the first.
The chunks are paced to real time, as `simba-music live` paces a player, and an underrun is counted whenever
generation falls behind playback (measured here, on the server: what the browser would hear as a gap).
"""

from __future__ import annotations

import threading

from ..live import LiveStream
from ..live.mix import DEFAULT_MAX_PROMPTS, check_mix
from ..live_cli import RealTimePacer
from .session import _pcm16

LEAD_SECONDS = 2.0


def page_mix(texts, weights) -> tuple[tuple[str, float], ...]:
    """The prompt boxes and weight sliders as a mix: empty boxes are left out; a ValueError says what is wrong."""
    pairs = [(text.strip(), float(weight)) for text, weight in zip(texts, weights, strict=True)
             if isinstance(text, str) and text.strip()]
    if not pairs:
        raise ValueError("Prompts: write at least one prompt")
    return check_mix(pairs, DEFAULT_MAX_PROMPTS)


class LivePlayer:
    def __init__(self, session):
        self.session = session
        self.stream: LiveStream | None = None
        self.underruns = 0
        self._stop = threading.Event()  # one per play(): stopping an old stream never stops the next
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.stream is not None

    def play(self, mix, guidance_scale: float, temperature: float, seed: int):
        """Yields (int16 audio chunk [samples] or [samples, channels], underruns so far) in real time until
        `stop()`; a new `play` stops this one first."""
        with self._lock:
            self._stop.set()
            self._stop = stop = threading.Event()
            self.underruns = 0
            stream = LiveStream(self.session.model, self.session.processor, mix, seed=seed,
                                guidance_scale=guidance_scale, temperature=temperature)
            self.stream = stream
        pacer, played = RealTimePacer(LEAD_SECONDS), 0.0
        try:
            for chunk in stream:
                if stop.is_set():
                    return
                self.underruns += pacer.wait_to_write(played)
                played += chunk.shape[-1] / self.session.sampling_rate
                yield _pcm16(chunk.T.float().cpu().numpy()), self.underruns
        finally:
            with self._lock:
                if self.stream is stream:
                    self.stream = None

    def steer(self, mix=None, guidance_scale: float | None = None, temperature: float | None = None) -> bool:
        """Change the playing stream (checked first: a ValueError leaves it as it was); False when none plays."""
        stream = self.stream
        if stream is None:
            return False
        current = stream.settings  # every slider event sends every value: only what moved is a change
        guidance_scale = None if guidance_scale == current.guidance_scale else guidance_scale
        temperature = None if temperature == current.temperature else temperature
        if guidance_scale is not None or temperature is not None:
            stream.set_sampling(guidance_scale=guidance_scale, temperature=temperature)
        if mix is not None and mix != stream.mix:
            stream.set_prompts(mix)
        return True

    def stop(self) -> None:
        self._stop.set()


__all__ = ["LivePlayer", "page_mix"]
