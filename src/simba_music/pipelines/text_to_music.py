"""TextToMusicPipeline: `pipeline("text-to-music", model=...)` with duration, guidance, seed, batching, streaming.

The built-in `pipeline("text-to-audio")` also works on SimbaMusicForConditionalGeneration unmodified (it reads
`generate(...).audio` and `config.sampling_rate`); this task adds music-specific arguments and per-prompt seeds that
do not depend on how the prompts are batched.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForTextToWaveform, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from ..modeling.key_steering import steering_keys
from ..modeling.processing import check_prompts
from ..modeling.streaming import CallbackAudioStreamer
from ..modeling.tempo_steering import steering_tempi
from ..shipped import demo_model_path

_GENERATE_ARGUMENTS = ("duration", "max_new_tokens", "guidance_scale", "temperature", "top_k", "top_p", "do_sample",
                       "streamer", "progress_bar", "audio_prompt", "audio_prompt_sampling_rate", "key_strength",
                       "tempo_strength")
# Steering arguments given per prompt: one value for every prompt, a list of one per prompt, or (default) what each
# prompt states, where the model follows its captions (`caption_steering`).
_PER_PROMPT_STEERING = ("key", "tempo_bpm")


class TextToMusicPipeline(Pipeline):
    """Text prompts -> `{"audio": np.ndarray, "sampling_rate": int}` (a list for a list), the structure of
    transformers' `text-to-audio` pipeline: `audio` is float32 [samples] for mono, [channels, samples] otherwise.

    Call arguments: `duration` (seconds) or `max_new_tokens`, `guidance_scale`, `temperature`, `top_k`, `top_p`,
    `do_sample`, `seed` (prompt i uses `seed + i`, whatever the `batch_size`), `streamer` or `on_audio_chunk`
    (a callable receiving audio chunks [batch, channels, samples] while generating), `audio_prompt`, `key` (one key
    for every prompt, e.g. "F# minor", or one per prompt; default: the key each prompt states, where the model steers
    keys; see `generate`), `key_strength`, `tempo_bpm` (likewise: one tempo, one per prompt, or what each prompt
    states, where the model steers tempo) and `tempo_strength`.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True
    _pipeline_calls_generate = False  # our generate() has its own arguments; no GenerationMixin defaults

    def __call__(self, text_inputs, **kwargs):
        if self.tokenizer is None:
            raise ValueError("tokenizer: the text-to-music pipeline needs the caption tokenizer; pass tokenizer= "
                             "(e.g. processor.tokenizer) with a model instance, or save the processor with the model")
        prompts = check_prompts(text_inputs)
        seed = kwargs.pop("seed", None)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)))
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed: must be an int, got {type(seed).__name__}")
        stated = self.model.caption_steering(prompts)
        per_prompt = {}
        for name in _PER_PROMPT_STEERING:
            value = kwargs.pop(name, None)
            if isinstance(value, (list, tuple)):
                if len(value) != len(prompts):
                    raise ValueError(f"{name}: give one value or a list of {len(prompts)} (one per prompt, None for "
                                     f"none), got {len(value)}")
                per_prompt[name] = list(value)
            else:
                per_prompt[name] = [value] * len(prompts) if value is not None else stated.get(name,
                                                                                                 [None] * len(prompts))
        # Checked here, before the first prompt is generated, not by `generate` at a later batch.
        steering_keys(per_prompt["key"], len(prompts))
        steering_tempi(per_prompt["tempo_bpm"], len(prompts))
        items = [{"text": prompt, "seed": seed + index, **{name: values[index] for name, values in per_prompt.items()}}
                 for index, prompt in enumerate(prompts)]
        outputs = super().__call__(items, **kwargs)
        return outputs[0] if isinstance(text_inputs, str) else outputs

    def _sanitize_parameters(self, on_audio_chunk=None, **kwargs):
        unknown = set(kwargs) - set(_GENERATE_ARGUMENTS)
        if unknown:
            raise TypeError(f"text-to-music pipeline: unexpected arguments {sorted(unknown)}; allowed are "
                            f"{sorted(_GENERATE_ARGUMENTS + ('seed', 'on_audio_chunk', 'batch_size'))}")
        forward_params = dict(kwargs)
        if on_audio_chunk is not None:
            if "streamer" in forward_params:
                raise ValueError("streamer, on_audio_chunk: give at most one of them")
            forward_params["streamer"] = CallbackAudioStreamer(on_audio_chunk)
        forward_params.setdefault("progress_bar", False)
        return {}, forward_params, {}

    def preprocess(self, item):
        encoded = self.tokenizer(item["text"], padding="max_length", truncation=True,
                                 max_length=self.model.config.text_max_length, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "seed": item["seed"],
                **{name: item[name] for name in _PER_PROMPT_STEERING}}

    def _forward(self, model_inputs, **forward_params):
        seeds = model_inputs.pop("seed")
        seeds = list(seeds) if isinstance(seeds, (list, tuple)) else [seeds]
        steering = {}
        for name in _PER_PROMPT_STEERING:  # a batch collates them into lists
            values = model_inputs.pop(name)
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            steering[name] = None if values == [None] * len(values) else values
        output = self.model.generate(input_ids=model_inputs["input_ids"], attention_mask=model_inputs["attention_mask"],
                                     seed=[int(s) for s in seeds], **steering, **forward_params)
        return {"audio": output.audio}

    def postprocess(self, model_outputs):
        return audio_output(model_outputs["audio"], self.model.config.sampling_rate)


def audio_output(audio: torch.Tensor, sampling_rate: int) -> dict:
    """One prompt's audio [1, channels, samples] or [channels, samples] in the structure transformers'
    text-to-audio pipeline returns for MusicGen (its postprocess squeezes): `{"audio": float32 [samples] for mono,
    [channels, samples] otherwise, "sampling_rate": int}`. Only the batch and a single channel are dropped, so a
    one-sample output keeps its samples axis."""
    if audio.dim() == 3:
        audio = audio[0]
    if audio.shape[0] == 1:
        audio = audio[0]
    return {"audio": audio.float().cpu().numpy(), "sampling_rate": int(sampling_rate)}


_demo = demo_model_path()
PIPELINE_REGISTRY.register_pipeline("text-to-music", pipeline_class=TextToMusicPipeline,
                                    pt_model=AutoModelForTextToWaveform, type="text",
                                    default={"model": (str(_demo), "main")} if _demo else None)

__all__ = ["TextToMusicPipeline", "audio_output"]
