"""LiveStream: endless music from a text-to-music model, steered while it plays, in constant memory.

Every prompt of the mix is one batch row of the decoder, the empty caption one more (the last row), and each step
samples one column of the delayed code grid from
    guided logits = uncond + g * sum_i w_i (cond_i - uncond)        (weights normalised to sum 1)
so the state-space decoder plays forever at a constant cost per step: its cache has a fixed size per row.

Changes (a new mix, new sampling settings, a key or a tempo to steer toward) may come from any thread; they wait in a
queue and are applied between two steps, and recorded with the step at which they applied, so that
`replay=stream.change_log` reproduces the stream bit for bit. When a prompt joins, every row is primed afresh in one
prefill from its caption and the last `priming_seconds` of codes, then all step in lockstep: the prompts and the
empty caption are compared on the same short context, not the new prompt's 2 s against the empty caption's longer
history of the old music. A dropped prompt's row leaves the cache.

Memory: the cache (fixed per row, at most `max_prompts + 1` rows), the window of recent codes that primes the rows,
and the codec's streaming window. Only the change log grows, by one entry per change, never with time.
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import threading
from collections.abc import Iterable

import torch

from ..modeling.cache import SimbaMusicCache
from ..modeling.key_steering import steering_bias
from ..modeling.sampling import (
    SamplingSettings,
    guided_logits,
    next_column_logits,
    row_generators,
    sample_next,
)
from ..modeling.streaming import CallbackAudioStreamer, ChunkedAudioDecoder
from ..modeling.tempo_steering import TempoSteering, codec_onsets
from ..modeling.values import DEFAULT_TEMPO_STRENGTH, check_key_strength, check_tempo_bpm, check_tempo_strength
from .history import CodeWindow
from .mix import DEFAULT_MAX_PROMPTS, Mix, check_max_prompts, check_mix, normalized_weights

DEFAULT_CHUNK_SECONDS = 1.0  # how far the audio a player receives lags the codes sampled
# When a prompt joins, the rows restart from the last 2 s; they are reprimed every 10 s of positions from the last 5 s.
# Measured on the demo (trained on 10 s clips, bench_live_switch.py): plain `generate` drifts from the prompted
# church organ to harpsichord after 8 s, and with 10 s windows a switched prompt was heard 0 times in 10; the
# shorter the window, the sooner the new prompt is heard.
DEFAULT_PRIMING_SECONDS = 2.0
DEFAULT_REPRIME_SECONDS = 10.0
# A codec that streams exactly (causal EnCodec, as the demo's; the pitch codec) decodes each frame once, carrying
# its state. Others decode each chunk after this much audio already played (the window's decoder needs it):
# measured on the demo codec decoded in windows (600 random frames, largest difference to the one-shot decode /
# peak): 1 s 0.17, 2 s 0.096, 4 s 0.0057, 5 s 5.2e-05, 6 s 1.3e-05.
DEFAULT_CODEC_CONTEXT_SECONDS = 5.0


NO_KEY = "none"  # LiveChange.key that turns key steering off (None keeps the current key)
NO_TEMPO = "off"  # LiveChange.tempo_bpm that turns tempo steering off (None keeps the current tempo; not a number,
# so that a tempo of 0 is refused rather than read as "off")


@dataclasses.dataclass(frozen=True)
class LiveChange:
    """A new prompt mix, new sampling settings and/or a new key or tempo to steer toward; None keeps the current
    value."""

    prompts: Mix | None = None
    temperature: float | None = None
    top_k: int | None = None
    guidance_scale: float | None = None
    key: str | None = None
    key_strength: float | None = None
    tempo_bpm: float | str | None = None
    tempo_strength: float | None = None


@dataclasses.dataclass(frozen=True)
class TimedChange:
    """`change` applied before sampling column `step` of the delayed code grid (the frame index, for one codebook)."""

    step: int
    change: LiveChange


def check_seconds(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        raise ValueError(f"{name}: must be a number of seconds in ({low:g}, {high:g}], got {value!r}")
    return float(value)


def _check_constant_state(config) -> None:
    """Self-attention keeps every past key and value: such a decoder cannot play forever in constant memory."""
    if "attention" in config.block_pattern or config.hybrid_attention_layers:
        raise ValueError(f"model: live streams need a decoder with a constant-size state; block_pattern="
                         f"{config.block_pattern} / hybrid_attention_layers={config.hybrid_attention_layers} has "
                         "self-attention, whose cache grows with every step (use a Mamba/SiMBA variant)")


class LiveStream:
    """Endless audio from `model` (a SimbaMusicForConditionalGeneration) and its `processor`.

    Iterate over it for audio chunks [channels, samples] float32 at `model.config.sampling_rate`, each
    `chunk_seconds` long, joining without seams (a codec that streams exactly carries its state from chunk to
    chunk; any other decodes each chunk after `codec_context_seconds` of the audio before it); or call `step()`
    for one column at a time and `pop_audio()` for the chunks it completed.
    From any thread: `set_prompts`, `add_prompt`, `remove_prompt`, `set_sampling` (checked at once, applied at the
    next step). `prompts`: a prompt, or (prompt, weight) pairs. Sampling settings default to the model's
    generation config. `priming_seconds` of recent codes prime the rows when a prompt joins. Once the rows have seen
    `reprime_seconds` of positions, every row is primed afresh from the last `reprime_seconds / 2`, so that the
    decoder sees between half and all of that span, however long it plays (a model drifts past the length of its
    training clips). `replay`: a `change_log` of an earlier stream with the same arguments, to reproduce it.
    `key` steers toward a key (see `generate`); by default, where the model steers keys, the key the prompts state,
    read again when they change, until `set_key` names one (or `NO_KEY`). `tempo_bpm` likewise, with `set_tempo`
    (`NO_TEMPO`); a new tempo keeps the beat's phase, so the music speeds up or slows down without a jump.
    """

    @torch.no_grad()
    def __init__(self, model, processor, prompts, *, seed: int = 0, guidance_scale: float | None = None,
                 temperature: float | None = None, top_k: int | None = None,
                 chunk_seconds: float = DEFAULT_CHUNK_SECONDS, priming_seconds: float = DEFAULT_PRIMING_SECONDS,
                 reprime_seconds: float = DEFAULT_REPRIME_SECONDS,
                 codec_context_seconds: float = DEFAULT_CODEC_CONTEXT_SECONDS, max_prompts: int = DEFAULT_MAX_PROMPTS,
                 key: str | None = None, key_strength: float | None = None, tempo_bpm: float | None = None,
                 tempo_strength: float | None = None, replay: Iterable[TimedChange] = ()):
        self.max_prompts = check_max_prompts(max_prompts)
        mix = check_mix(prompts, self.max_prompts)
        _check_constant_state(model.config.decoder)
        self.settings, _ = model._settings(None, dict(guidance_scale=guidance_scale, temperature=temperature,
                                                      top_k=top_k))
        chunk_seconds = check_seconds(chunk_seconds, "chunk_seconds", 0.0, 60.0)
        codec_context_seconds = check_seconds(codec_context_seconds, "codec_context_seconds", 0.0, 60.0)
        reprime_seconds = check_seconds(reprime_seconds, "reprime_seconds", 0.0, model.config.max_duration_s)
        # A joining row's window must fit in what the rows have seen since a reprime.
        priming_seconds = check_seconds(priming_seconds, "priming_seconds", 0.0, reprime_seconds / 2)
        self.model, self.processor = model, processor
        self.key_strength = key_strength if key_strength is not None else getattr(model.generation_config,
                                                                                  "key_strength", None)
        self.keys_follow_prompts = key is None
        self.key = key if key is not None else self._stated(mix, "key")
        self.key_bias = steering_bias(model.codec, self.key, self.key_strength, 1, model.device)
        if tempo_strength is None:
            tempo_strength = getattr(model.generation_config, "tempo_strength", None)
        if tempo_strength is None:
            tempo_strength = DEFAULT_TEMPO_STRENGTH
        self.tempos_follow_prompts = tempo_bpm is None
        tempo_bpm = check_tempo_bpm(tempo_bpm) if tempo_bpm is not None else self._stated(mix, "tempo_bpm")
        # One beat clock for the whole stream: a new tempo continues the phase of the one before; while no tempo is
        # set the phase waits, and a tempo set again resumes from it.
        self.beat = TempoSteering([tempo_bpm], check_tempo_strength(tempo_strength), model.frame_rate,
                                  model.config.decoder.codebook_size, model.device, codec_onsets(model.codec))
        self._replay = collections.deque(sorted(replay, key=lambda timed: timed.step))
        for timed in self._replay:
            self._check_change(timed.change)

        self.decoder = model.decoder
        decoder_config = model.config.decoder
        self.num_codebooks, self.special = decoder_config.num_codebooks, decoder_config.special_token_id
        self.generator = row_generators(1, seed, None, model.device)[0]
        self.priming_frames = max(1, round(priming_seconds * model.frame_rate))
        self.reprime_frames = max(2, round(reprime_seconds * model.frame_rate))
        self.window = CodeWindow(self.num_codebooks, max(self.num_codebooks, self.reprime_frames // 2), model.device)
        self._audio = collections.deque()
        self.chunker = ChunkedAudioDecoder(model.codec, CallbackAudioStreamer(self._audio.append),
                                           chunk_frames=max(1, round(chunk_seconds * model.frame_rate)),
                                           left_context_frames=round(codec_context_seconds * model.frame_rate))
        self.step_index = 0  # columns sampled so far
        self.change_log: list[TimedChange] = []
        self._pending: queue.SimpleQueue[LiveChange] = queue.SimpleQueue()
        self._requested_lock = threading.Lock()
        self._requested = mix  # the mix after every queued change: what add/remove_prompt build on

        self.mix = mix
        self._prime_all_rows()

    # ---- changes, from any thread -------------------------------------------------------------------------------

    def set_prompts(self, prompts) -> None:
        """Replace the mix: prompts kept (same text) keep their rows, new ones join, missing ones leave."""
        mix = check_mix(prompts, self.max_prompts)
        with self._requested_lock:
            self._requested = mix
            self._pending.put(LiveChange(prompts=mix))

    def add_prompt(self, text: str, weight: float = 1.0) -> None:
        with self._requested_lock:
            mix = check_mix(list(self._requested) + [(text, weight)], self.max_prompts)
            self._requested = mix
            self._pending.put(LiveChange(prompts=mix))

    def remove_prompt(self, text: str) -> None:
        with self._requested_lock:
            if text not in dict(self._requested):
                raise ValueError(f"text: {text!r} is not in the mix {[t for t, _ in self._requested]}")
            mix = check_mix([pair for pair in self._requested if pair[0] != text], self.max_prompts)
            self._requested = mix
            self._pending.put(LiveChange(prompts=mix))

    def set_sampling(self, *, temperature: float | None = None, top_k: int | None = None,
                     guidance_scale: float | None = None) -> None:
        change = LiveChange(temperature=temperature, top_k=top_k, guidance_scale=guidance_scale)
        self._check_change(change)
        self._pending.put(change)

    def set_key(self, key: str | None, key_strength: float | None = None) -> None:
        """Steer toward `key` ("F# minor"; None: stop steering) from the next step, with `key_strength` if given.
        The key then no longer follows the prompts."""
        change = LiveChange(key=NO_KEY if key is None else key, key_strength=key_strength)
        self._check_change(change)
        self._pending.put(change)

    def set_tempo(self, tempo_bpm: float | None, tempo_strength: float | None = None) -> None:
        """Start new sounds on the beats of `tempo_bpm` (None: stop steering) from the next step, with
        `tempo_strength` if given. The tempo then no longer follows the prompts."""
        change = LiveChange(tempo_bpm=NO_TEMPO if tempo_bpm is None else tempo_bpm, tempo_strength=tempo_strength)
        self._check_change(change)
        self._pending.put(change)

    @property
    def tempo_bpm(self) -> float | None:
        return self.beat.tempo_bpm[0]

    def _check_change(self, change: LiveChange) -> None:
        if change.prompts is not None:
            check_mix(change.prompts, self.max_prompts)
        self._updated_settings(change).check()
        if change.key_strength is not None:
            check_key_strength(change.key_strength)
        if change.key not in (None, NO_KEY):
            steering_bias(self.model.codec, change.key, None, 1)  # a bad name, or a codec whose codes carry no pitch
        if change.tempo_strength is not None:
            check_tempo_strength(change.tempo_strength)
        if change.tempo_bpm not in (None, NO_TEMPO):
            check_tempo_bpm(change.tempo_bpm)

    def _stated(self, mix: Mix, name: str):
        """The one `name` ("key", "tempo_bpm") the mix's prompts state, where the model follows its captions in
        that; else None."""
        values = {value for value in self.model.caption_steering([text for text, _ in mix]).get(name, [])
                  if value is not None}
        return values.pop() if len(values) == 1 else None

    def _updated_settings(self, change: LiveChange) -> SamplingSettings:
        updates = {name: getattr(change, name) for name in ("temperature", "top_k", "guidance_scale")
                   if getattr(change, name) is not None}
        return dataclasses.replace(self.settings, **updates)

    # ---- playing ------------------------------------------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        while not self._audio:
            self.step()
        return self._audio.popleft()[0]

    def pop_audio(self) -> list[torch.Tensor]:
        """The audio chunks [channels, samples] completed by `step()` calls and not yet taken."""
        chunks = [chunk[0] for chunk in self._audio]
        self._audio.clear()
        return chunks

    @torch.no_grad()
    def step(self) -> torch.Tensor | None:
        """Apply waiting changes, sample one column, feed it to every row. Returns the codes [K] of the frame it
        completed (None during the first K - 1 steps of a K-codebook model)."""
        if self.step_index - self.columns_before_cache >= self.reprime_frames:
            self._prime_all_rows()
        self._apply_changes()
        previous = self.window.recent(1)[:, 0, 0] if self.step_index > 0 else None  # the first codebook's
        column = sample_next(self.next_logits(), self.settings, self.special, [self.generator],
                             self.beat.bias(previous, self.key_bias))[..., None]
        # The delay pattern's gaps: codebook k has no code before column k (as generate's plan has).
        column[:, self.step_index + 1:] = self.special
        self.window.append(column)
        self.step_index += 1
        frame = self.window.latest_frame()
        if frame is not None:
            self.chunker.push(frame)
        self.row_logits = next_column_logits(self.decoder, column.repeat(self.row_logits.shape[0], 1, 1), self.cache)
        return None if frame is None else frame[0, :, 0]

    def next_logits(self) -> torch.Tensor:
        """The guided logits [1, K, V] the next step samples from (changes still waiting not applied)."""
        rows = self.row_logits
        weights = torch.tensor(normalized_weights(self.mix), device=rows.device)
        return guided_logits(rows[None, :-1], rows[-1:], self.settings.guidance_scale, weights)

    def _apply_changes(self) -> None:
        while self._replay and self._replay[0].step <= self.step_index:
            self._apply(self._replay.popleft().change)
        while True:
            try:
                change = self._pending.get_nowait()
            except queue.Empty:
                return
            self._apply(change)

    def _apply(self, change: LiveChange) -> None:
        self.settings = self._updated_settings(change)
        if change.prompts is not None:
            self._change_rows(change.prompts)
        if change.key is not None:
            self.key, self.keys_follow_prompts = (None if change.key == NO_KEY else change.key), False
        elif change.prompts is not None and self.keys_follow_prompts:
            self.key = self._stated(change.prompts, "key")
        if change.key_strength is not None:
            self.key_strength = change.key_strength
        if change.prompts is not None or change.key is not None or change.key_strength is not None:
            self.key_bias = steering_bias(self.model.codec, self.key, self.key_strength, 1, self.model.device)
        if change.tempo_bpm is not None:
            self.tempos_follow_prompts = False
            self.beat.set_tempo([None if change.tempo_bpm == NO_TEMPO else change.tempo_bpm])
        elif change.prompts is not None and self.tempos_follow_prompts:
            self.beat.set_tempo([self._stated(change.prompts, "tempo_bpm")])
        if change.tempo_strength is not None:
            self.beat.strength = change.tempo_strength
        self.change_log.append(TimedChange(self.step_index, change))

    # ---- rows ---------------------------------------------------------------------------------------------------

    def _prime_all_rows(self, frames: int | None = None) -> None:
        """Every row afresh in one prefill: the captions (the empty one last), the start id, the last `frames`
        columns (default: the window, half the reprime span), at the positions of a stream that began with those
        codes. Starts the stream; later bounds its positions, and lets a joining prompt be heard."""
        text, text_mask = self._encode([text for text, _ in self.mix], with_unconditional=True)
        recent = self.window.recent(frames)
        columns = torch.cat([self._start_column(1), recent], dim=-1).repeat(len(self.mix) + 1, 1, 1)
        self.cache = SimbaMusicCache()
        self.row_logits = next_column_logits(self.decoder, columns, self.cache, text, text_mask)
        self.columns_before_cache = self.step_index - recent.shape[-1]  # sampled columns the cache never saw

    def _change_rows(self, mix: Mix) -> None:
        """Prompts that left drop their rows. If a prompt joined, every row is primed afresh from the last
        `priming_seconds` of codes; else the kept rows only move into the order of `mix`."""
        if {text for text, _ in mix} - {text for text, _ in self.mix}:
            self.mix = mix
            self._prime_all_rows(self.priming_frames)
            return
        current = [text for text, _ in self.mix]
        self._select_rows([current.index(text) for text, _ in mix] + [len(current)])  # the unconditional row last
        self.mix = mix

    def _select_rows(self, rows: list[int]) -> None:
        if rows == list(range(self.row_logits.shape[0])):
            return  # nothing moves: a change of weights only
        index = torch.tensor(rows, device=self.row_logits.device)
        self.cache.reorder_cache(index)
        self.row_logits = self.row_logits.index_select(0, index)

    def _start_column(self, rows: int) -> torch.LongTensor:
        return torch.full((rows, self.num_codebooks, 1), self.special, dtype=torch.long, device=self.model.device)

    def _encode(self, texts: list[str], with_unconditional: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The text encoder's states and mask of `texts` (then the empty caption), padded as `generate` pads."""
        inputs = self.processor(texts)
        input_ids, mask = self.model._pad_captions(inputs["input_ids"], inputs["attention_mask"])
        if with_unconditional:
            empty_ids, empty_mask = self.model._unconditional_captions(1)
            input_ids, mask = torch.cat([input_ids, empty_ids]), torch.cat([mask, empty_mask])
        return self.model.encode_text(input_ids, mask), mask


__all__ = ["NO_KEY", "NO_TEMPO", "LiveChange", "LiveStream", "TimedChange", "check_seconds"]
