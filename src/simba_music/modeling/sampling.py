"""`generate()` for the text-to-music model: our own sampling loop over the decoder's cache.

Why not GenerationMixin: classifier-free guidance needs the conditional and unconditional rows in one batch and one
combined distribution per pair, multi-codebook models need the delay pattern with forced pad positions, streaming
needs the codec in the loop, and seeds should be per row. Each step feeds one frame into the cache, so a step costs
the same at the first second and at the fifth minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from transformers import GenerationConfig
from transformers.utils import ModelOutput

from .audio_prompt import prepare_audio_prompt
from .cache import SimbaMusicCache
from .delay_pattern import undo_delay_pattern
from .key_steering import caption_keys, steering_bias
from .streaming import ChunkedAudioDecoder
from .tempo_steering import TempoSteering, caption_tempi, tempo_steering
from .values import (
    DEFAULT_DURATION_S,
    MAX_GUIDANCE_SCALE,
    PAPER_GENERATION_DEFAULTS,
    SEED_LIMIT,
    TEMPERATURE_RANGE,
    check_guidance_scale,
    check_seed,
    check_temperature,
)

# Keys the text-to-audio pipeline or GenerationMixin habits may pass; they have no meaning for this sampler.
_IGNORED_GENERATE_KWARGS = {"pad_token_id", "bos_token_id", "eos_token_id", "return_dict_in_generate", "use_cache",
                            "output_scores", "output_attentions", "output_hidden_states", "num_beams"}


@dataclass
class TextToMusicOutput(ModelOutput):
    """`audio`: [batch, channels, samples] float waveform at `config.sampling_rate` (None with `return_audio=False`).
    `sequences`: [batch, num_codebooks, frames] codec codes, audio prompt included."""

    audio: torch.Tensor | None = None
    sequences: torch.LongTensor | None = None


def default_generation_config(frame_rate: float) -> GenerationConfig:
    return GenerationConfig(**PAPER_GENERATION_DEFAULTS, max_new_tokens=round(DEFAULT_DURATION_S * frame_rate))


@dataclass
class SamplingSettings:
    do_sample: bool
    temperature: float
    top_k: int
    top_p: float
    guidance_scale: float

    def check(self) -> None:
        check_guidance_scale(self.guidance_scale)
        check_temperature(self.temperature)
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise ValueError(f"top_k: must be an integer >= 0 (0 disables it), got {self.top_k!r}")
        if not isinstance(self.top_p, (int, float)) or not 0 < self.top_p <= 1:
            raise ValueError(f"top_p: must be in (0, 1], got {self.top_p!r}")


def sample_next(logits: torch.Tensor, settings: SamplingSettings, special_token_id: int,
                generators: list[torch.Generator], bias: torch.Tensor | None = None) -> torch.LongTensor:
    """[B, K, V] logits -> [B, K] codes. The special id is never produced. `bias` [B, codes] is added to the first
    codebook's logits before anything else (key and tempo steering)."""
    logits = logits.float().clone()
    if bias is not None:
        logits[:, 0, :bias.shape[-1]] += bias
    logits[..., special_token_id] = -math.inf
    if not settings.do_sample:
        return logits.argmax(-1)
    logits = logits / settings.temperature
    vocab = logits.shape[-1] - 1  # real codes
    if 0 < settings.top_k < vocab:
        kth = logits.topk(settings.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if settings.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token once the mass before it already reaches top_p; the most likely token always stays.
        drop_sorted = (cumulative - sorted_logits.softmax(-1)) >= settings.top_p
        logits = logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), -math.inf)
    probs = logits.softmax(-1)
    return torch.stack([torch.multinomial(probs[row], 1, generator=generator).squeeze(-1)
                        for row, generator in enumerate(generators)])


def row_generators(batch_size: int, seed, generator: torch.Generator | None, device) -> list[torch.Generator]:
    """Per-row random streams: row i of a batch with `seed=s` draws exactly what a single call with `seed=s + i`
    draws, so batching does not change the music. A shared `generator` is used by every row in turn."""
    if generator is not None:
        if seed is not None:
            raise ValueError("seed, generator: give at most one of them")
        return [generator] * batch_size
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)))  # follows torch.manual_seed
    if isinstance(seed, (list, tuple)):
        seeds = list(seed)
    elif isinstance(seed, int) and not isinstance(seed, bool):
        seeds = [seed + row for row in range(batch_size)]
    else:
        seeds = []  # "42", 4.2, True: refused below rather than silently converted
    if len(seeds) != batch_size or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seed: must be an int or a list of {batch_size} ints (one per prompt), got {seed!r}")
    for value in seeds:
        check_seed(value)  # seed + row must fit too
    return [torch.Generator(device=device).manual_seed(s) for s in seeds]


def next_column_logits(decoder, columns: torch.LongTensor, cache: SimbaMusicCache, text: torch.Tensor | None = None,
                       text_mask: torch.Tensor | None = None,
                       audio_positions_from: int | None = None) -> torch.Tensor:
    """Feed columns [rows, K, n] of the delayed code grid into `cache` (with the text on the first call, which is
    the prefill) -> the logits [rows, K, V] of the next column. `audio_positions_from` places the columns at other
    positions than right after the cache (a live stream primes a row with the recent codes at the positions they
    had)."""
    model_input = columns[:, 0] if decoder.config.num_codebooks == 1 else columns
    logits = decoder(input_ids=model_input, encoder_hidden_states=text, encoder_attention_mask=text_mask, cache=cache,
                     use_cache=True, delay_pattern_applied=True, audio_positions_from=audio_positions_from,
                     return_dict=True).logits
    logits = logits[:, -1][:, None] if decoder.config.num_codebooks == 1 else logits[:, :, -1]
    if not bool(torch.isfinite(logits).all()):
        raise FloatingPointError("decoder: produced non-finite logits (NaN or inf); its weights are broken "
                                 "or were not all loaded")
    return logits


def guided_logits(conditional: torch.Tensor, unconditional: torch.Tensor, guidance_scale: float,
                  weights: torch.Tensor) -> torch.Tensor:
    """Classifier-free guidance over a weighted mix of prompts: `uncond + g * sum_i w_i (cond_i - uncond)`.
    conditional [B, P, K, V] (P prompts per output), unconditional [B, K, V], weights [P] -> [B, K, V]. One prompt
    of weight 1 is the plain CFG formula, to the bit."""
    weights = weights.to(conditional.dtype).reshape(1, -1, *([1] * (conditional.dim() - 2)))
    direction = (weights * (conditional - unconditional[:, None])).sum(1)
    return unconditional + guidance_scale * direction


class TextToMusicGenerationMixin:
    """Adds `generate()` to SimbaMusicForConditionalGeneration (expects `text_encoder`, `decoder`, `codec`,
    `encode_text`, `config`)."""

    def _pad_captions(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None):
        """Right-pad or truncate captions to exactly `config.text_max_length` tokens: the prefix length (hence every
        audio position) is then the same whatever the batch, so a batch reproduces single calls."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        length = self.config.text_max_length
        pad_id = self.config.text_pad_token_id
        fill = pad_id if pad_id is not None else (self.config.text_encoder.pad_token_id or 0)
        if input_ids.shape[1] > length:
            input_ids, attention_mask = input_ids[:, :length], attention_mask[:, :length]
        elif input_ids.shape[1] < length:
            grow = length - input_ids.shape[1]
            input_ids = torch.nn.functional.pad(input_ids, (0, grow), value=fill)
            attention_mask = torch.nn.functional.pad(attention_mask, (0, grow), value=0)
        if pad_id is not None:
            # Whatever the tokenizer padded with, padded positions carry the model's pad id.
            input_ids = input_ids.masked_fill(attention_mask == 0, pad_id)
        return input_ids.to(self.device), attention_mask.to(self.device)

    def _unconditional_captions(self, batch_size: int):
        """The empty caption (the tokenizer's encoding of "", stored in `config.empty_caption_ids`)."""
        ids = list(self.config.empty_caption_ids or [])
        input_ids = torch.tensor([ids], dtype=torch.long).reshape(1, len(ids))
        input_ids, mask = self._pad_captions(input_ids, torch.ones_like(input_ids))
        return input_ids.expand(batch_size, -1), mask.expand(batch_size, -1)

    def caption_steering(self, captions: list[str], generation_config: GenerationConfig | None = None) -> dict:
        """The steering arguments of `generate` that follow what `captions` ask: `key` (the key each states) where
        the generation config (default: the model's) sets `key_strength` and the codec carries pitch, `tempo_bpm`
        (the tempo each states) where it sets `tempo_strength`; {} for a config that opts into neither. The
        pipelines, the command line, the demo page, the live stream and the evaluation pass them to `generate`."""
        config = generation_config if generation_config is not None else self.generation_config
        steering = {}
        if getattr(config, "key_strength", 0) and self.codec.reads_pitch:
            steering["key"] = caption_keys(captions)
        if getattr(config, "tempo_strength", 0):
            steering["tempo_bpm"] = caption_tempi(captions)
        return steering

    def _settings(self, generation_config: GenerationConfig | None, kwargs: dict) -> tuple[SamplingSettings, dict]:
        config = generation_config if generation_config is not None else self.generation_config
        values = {name: kwargs.pop(name, None) for name in PAPER_GENERATION_DEFAULTS}
        values = {name: (value if value is not None else getattr(config, name, None)) for name, value in values.items()}
        values = {name: (value if value is not None else PAPER_GENERATION_DEFAULTS[name])
                  for name, value in values.items()}
        settings = SamplingSettings(do_sample=bool(values["do_sample"]), temperature=values["temperature"],
                                    top_k=values["top_k"], top_p=values["top_p"],
                                    guidance_scale=values["guidance_scale"])
        settings.check()
        return settings, config

    def _new_frames(self, duration, max_new_tokens, config: GenerationConfig) -> int:
        max_seconds = self.config.max_duration_s
        max_frames = math.ceil(max_seconds * self.frame_rate)
        if duration is not None and max_new_tokens is not None:
            raise ValueError("duration, max_new_tokens: give at most one of them")
        if duration is not None:
            if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 < duration <= max_seconds:
                raise ValueError(f"duration: must be in (0, {max_seconds:g}] seconds, got {duration!r}")
            return max(1, round(duration * self.frame_rate))
        if max_new_tokens is None:
            max_new_tokens = config.max_new_tokens or round(DEFAULT_DURATION_S * self.frame_rate)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
                or not 1 <= max_new_tokens <= max_frames:
            raise ValueError(f"max_new_tokens: must be an integer in [1, {max_frames}] ({max_seconds:g} s at "
                             f"{self.frame_rate:g} frames/s), got {max_new_tokens!r}")
        return max_new_tokens

    @torch.no_grad()
    def generate(self, input_ids: torch.LongTensor | None = None, attention_mask: torch.Tensor | None = None, *,
                 generation_config: GenerationConfig | None = None, duration: float | None = None,
                 max_new_tokens: int | None = None, seed: int | list[int] | None = None,
                 generator: torch.Generator | None = None, audio_prompt=None,
                 audio_prompt_sampling_rate: int | None = None, streamer=None, stream_chunk_frames: int | None = None,
                 stream_left_context_frames: int | None = None, stream_lookahead_frames: int | None = None,
                 return_audio: bool = True, progress_bar: bool = True, input_values: torch.Tensor | None = None,
                 padding_mask: torch.Tensor | None = None, key: str | list[str | None] | None = None,
                 key_strength: float | None = None, tempo_bpm: float | list[float | None] | None = None,
                 tempo_strength: float | None = None, **kwargs) -> TextToMusicOutput:
        """Text (tokenized captions) -> music.

        Args:
            input_ids, attention_mask: tokenized captions [B, S] (e.g. from `SimbaMusicProcessor`).
            duration / max_new_tokens: length of the new audio, in seconds or codec frames (at most
                `config.max_duration_s`); default from the generation config (10 s).
            guidance_scale, do_sample, temperature, top_k, top_p: as keyword arguments, override the generation
                config (paper defaults: 3, True, 1.2, 250, 1.0). `guidance_scale=1` skips the unconditional rows.
            seed: int (row i uses `seed + i`) or one int per row; or `generator`, shared by all rows.
            audio_prompt: waveform to continue, [samples], [channels, samples] or [B, channels, samples];
                `audio_prompt_sampling_rate` if it differs from the codec's (it is then resampled with a warning).
            input_values, padding_mask: the audio prompt as `SimbaMusicProcessor(text=..., audio=...)` returns it,
                at the codec's rate (an alternative to `audio_prompt`; prompts must have equal lengths).
            streamer: object with `put(audio_chunk)` / `end()` receiving audio [B, channels, samples] while
                generating (see `simba_music.modeling.streaming`). The `stream_*` arguments tune the chunked decode.
            return_audio: decode the whole waveform at the end; turn off for long streamed runs to keep memory flat.
            progress_bar: show a tqdm bar over the frames.
            key: steer toward a key ("F# minor"; one per row, None for none), for codecs whose codes carry pitch
                (the pitch codec); `key_strength` (default: the generation config's, else 2; 0 turns it off) scales
                the bias (`modeling/key_steering.py`).
            tempo_bpm: put the attacks on the beats of this tempo (beats per minute; one per row, None for none),
                with any codec (best with one whose codes are spectra); `tempo_strength` (default: the generation
                config's, else 4; 0 turns it off) scales the bias (`modeling/tempo_steering.py`).
                `self.caption_steering(captions)` gives the keys and tempi captions state, where the model's
                generation config opts in.
        """
        unknown = set(kwargs) - set(PAPER_GENERATION_DEFAULTS) - _IGNORED_GENERATE_KWARGS
        if unknown:
            raise TypeError(f"generate() got unexpected keyword arguments {sorted(unknown)}")
        if input_ids is None or input_ids.dim() != 2 or input_ids.shape[0] == 0:
            shape = None if input_ids is None else list(input_ids.shape)
            raise ValueError(f"input_ids: tokenized captions of shape [batch, tokens] are required, got {shape}")
        settings, config = self._settings(generation_config, kwargs)
        new_frames = self._new_frames(duration, max_new_tokens, config)
        batch = input_ids.shape[0]
        if key_strength is None:
            key_strength = getattr(config, "key_strength", None)
        key_bias = steering_bias(self.codec, key, key_strength, batch, self.device)
        if tempo_strength is None:
            tempo_strength = getattr(config, "tempo_strength", None)
        tempo = tempo_steering(self.codec, tempo_bpm, tempo_strength, self.frame_rate,
                               self.config.decoder.codebook_size, batch, self.device)
        generators = row_generators(batch, seed, generator, self.device)

        if input_values is not None:
            if audio_prompt is not None:
                raise ValueError("audio_prompt, input_values: give at most one of them")
            if padding_mask is not None and not bool(padding_mask.bool().all()):
                raise ValueError("padding_mask: audio prompts of different lengths are not supported; give "
                                 "equal-length prompts (the padding would be continued as silence)")
            audio_prompt = input_values
        prompt_codes = None
        if audio_prompt is not None:
            waveform = prepare_audio_prompt(audio_prompt, audio_prompt_sampling_rate, self.codec.sampling_rate,
                                            self.codec.channels, batch,
                                            max_seconds=self.config.max_duration_s)
            prompt_codes = self.codec.encode(waveform)

        input_ids, attention_mask = self._pad_captions(input_ids, attention_mask)
        guided = settings.guidance_scale != 1.0
        if guided:
            empty_ids, empty_mask = self._unconditional_captions(batch)
            input_ids = torch.cat([input_ids, empty_ids.to(self.device)])
            attention_mask = torch.cat([attention_mask, empty_mask.to(self.device)])
        text = self.encode_text(input_ids, attention_mask)

        codes = self._sample_codes(text, attention_mask, batch, new_frames, prompt_codes, settings, generators,
                                   streamer, (stream_chunk_frames, stream_left_context_frames,
                                              stream_lookahead_frames), progress_bar, key_bias, tempo)
        audio = self.codec.decode(codes) if return_audio else None
        return TextToMusicOutput(audio=audio, sequences=codes)

    def _sample_codes(self, text, text_mask, batch, new_frames, prompt_codes, settings, generators, streamer,
                      stream_options, progress_bar, key_bias=None,
                      tempo: TempoSteering | None = None) -> torch.LongTensor:
        from tqdm.auto import tqdm

        decoder_config = self.config.decoder
        special, num_codebooks = decoder_config.special_token_id, decoder_config.num_codebooks
        prompt_frames = 0 if prompt_codes is None else prompt_codes.shape[-1]
        total = prompt_frames + new_frames
        delayed_length = total + num_codebooks - 1
        # The delayed code grid: -1 marks a position to sample; delay gaps hold the special id, the prompt its codes.
        plan = torch.full((batch, num_codebooks, delayed_length), -1, dtype=torch.long, device=self.device)
        for k in range(num_codebooks):
            plan[:, k, :k] = special
            plan[:, k, k + total:] = special
            if prompt_codes is not None:
                plan[:, k, k:k + prompt_frames] = prompt_codes[:, k].to(self.device)
        first_free = int((plan == -1).any(0).any(0).nonzero()[0])
        rows = text.shape[0]  # batch, or 2 * batch with guidance (conditional rows first)

        def step(frames: torch.LongTensor, cache: SimbaMusicCache, first: bool) -> torch.Tensor:
            logits = next_column_logits(self.decoder, frames.repeat(rows // batch, 1, 1), cache,
                                        text if first else None, text_mask if first else None)
            if rows != batch:
                conditional, unconditional = logits[:batch], logits[batch:]
                logits = guided_logits(conditional[:, None], unconditional, settings.guidance_scale,
                                       conditional.new_ones(1))
            return logits

        chunker = None if streamer is None else ChunkedAudioDecoder(self.codec, streamer, *stream_options)
        cache = SimbaMusicCache()
        start = torch.full((batch, num_codebooks, 1), special, dtype=torch.long, device=self.device)
        logits = step(torch.cat([start, plan[..., :first_free]], dim=-1), cache, first=True)
        if chunker is not None and first_free > num_codebooks - 1:
            chunker.push(self._complete_frames(plan, 0, first_free - num_codebooks + 1))
        for t in tqdm(range(first_free, delayed_length), desc="generating", unit="frame", disable=not progress_bar,
                      leave=False):
            bias = key_bias
            if tempo is not None and t < total:  # the first codebook's frame t is sampled at column t
                bias = tempo.bias(plan[:, 0, t - 1] if t > 0 else None, key_bias)
            sampled = sample_next(logits, settings, special, generators, bias)
            plan[..., t] = torch.where(plan[..., t] == -1, sampled, plan[..., t])
            frame = t - (num_codebooks - 1)  # the latest frame whose codes are now all known
            if chunker is not None and frame >= 0:
                chunker.push(self._complete_frames(plan, frame, frame + 1))
            if t + 1 < delayed_length:
                logits = step(plan[..., t:t + 1], cache, first=False)
        if chunker is not None:
            chunker.finish()
        return self._complete_frames(plan, 0, total)

    @staticmethod
    def _complete_frames(delayed: torch.LongTensor, start: int, end: int) -> torch.LongTensor:
        """Codes of frames [start, end) from the delayed grid: codebook k of frame f sits at column f + k."""
        return undo_delay_pattern(delayed[:, :, start:], end - start)


__all__ = ["MAX_GUIDANCE_SCALE", "PAPER_GENERATION_DEFAULTS", "SEED_LIMIT", "TEMPERATURE_RANGE", "SamplingSettings",
           "TextToMusicGenerationMixin", "TextToMusicOutput", "check_seed", "default_generation_config",
           "guided_logits", "next_column_logits", "row_generators", "sample_next"]
