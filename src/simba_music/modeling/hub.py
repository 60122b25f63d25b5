"""Hub integration of the text-to-music model: the model card and the `auto_map` written into saved configs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

VARIANT_NAMES = {
    (("mamba2", "mamba2"), "prefix"): "Prefix Mamba",
    (("mamba2", "mlp"), "prefix"): "Prefix SiMBA",
    (("mamba2", "cross_attention", "mlp"), "cross_attention"): "Cross SiMBA",
    (("attention", "cross_attention", "mlp"), "cross_attention"): "Cross Transformer",
    (("mamba", "einfft"), "prefix"): "SiMBA (Mamba + EinFFT)",
}

# Every auto class the composite is registered with, so that each can load a saved folder from its config alone.
AUTO_MAP = {
    "AutoConfig": "configuration_simba_music.SimbaMusicForConditionalGenerationConfig",
    "AutoModel": "conditional_generation.SimbaMusicForConditionalGeneration",
    "AutoModelForTextToWaveform": "conditional_generation.SimbaMusicForConditionalGeneration",
}


def variant_name(decoder_config) -> str:
    key = (tuple(decoder_config.block_pattern), decoder_config.conditioning)
    name = VARIANT_NAMES.get(key, f"custom block pattern {list(key[0])}, {key[1]} conditioning")
    if decoder_config.hybrid_attention_layers:
        name += f", hybrid attention in layers {decoder_config.hybrid_attention_layers}"
    return name


def _steering(generation) -> str:
    """The steering a generation config opts into, as the card's sampling line continues."""
    parts = [f"{name} steering {value:g} toward the {what} a caption states"
             for name, what, value in (("key", "key", getattr(generation, "key_strength", None)),
                                       ("tempo", "tempo (BPM)", getattr(generation, "tempo_strength", None)))
             if value]
    if not parts:
        return ""
    return ("; " + " and ".join(parts) + " (`key_strength` / `tempo_strength` in `generation_config.json`; "
            "`generate`'s arguments override them)")


def model_card(model, repo_id: str, tags: list[str] | None = None) -> str:
    """A README.md for the Hub: architecture, variant, codec, text encoder, intended use, how to generate."""
    config = model.config
    decoder, codec, text = config.decoder, config.audio_encoder, config.text_encoder
    decoder_parameters = sum(p.numel() for p in model.decoder.parameters())
    all_tags = ["simba-music", "text-to-music", "mamba", "state-space-model", *(tags or [])]
    tag_lines = "\n".join(f"- {tag}" for tag in dict.fromkeys(all_tags))
    # A referenced encoder is named by its source: a local `_name_or_path` would be this machine's folder.
    text_name = (getattr(config, "text_encoder_source", None) or getattr(text, "_name_or_path", "")
                 or text.model_type)
    generation = model.generation_config
    return f"""---
library_name: transformers
pipeline_tag: text-to-audio
tags:
{tag_lines}
---

# {repo_id.split("/")[-1]}

A state-space text-to-music model (SiMBA/Mamba decoder over neural-codec tokens, after Lee et al., arXiv 2507.06674
and 2601.14786), packaged for `transformers` by the `simba-music` library.

## Architecture
- **Decoder:** {variant_name(decoder)}: {decoder.num_hidden_layers} blocks of `{decoder.block_pattern}`, d_model
  {decoder.hidden_size}, SSM state {decoder.state_size}, {decoder.conditioning} conditioning,
  {decoder.num_codebooks} codebook(s) of {decoder.vocab_size - 1} codes; {decoder_parameters:,} parameters.
- **Text encoder (frozen):** `{text_name}` ({text.model_type}), hidden size
  {getattr(text, "hidden_size", None) or text.d_model}; captions padded to {config.text_max_length} tokens.
- **Audio codec:** {codec.model_type} at {config.sampling_rate} Hz, {config.audio_channels} channel(s),
  {config.frame_rate:g} frames/s, first {decoder.num_codebooks} codebook(s) modelled.
- **Sampling defaults:** top-k {generation.top_k}, temperature {generation.temperature}, classifier-free guidance
  {generation.guidance_scale} (conditional and unconditional rows in one batch; unconditional = empty caption)\
{_steering(generation)}.

## Intended use
Generating instrumental music from short text descriptions (genre, instrument, mood, tempo), for research and
creative prototyping. The SSM decoder keeps a constant-size state, so long pieces (up to {config.max_duration_s:g} s
per call) are generated in a single pass with flat memory, and audio can be streamed while it is generated.

Limitations: quality and musical coverage are bounded by the training data; captions outside it are followed
loosely. The model does not generate vocals or lyrics. Check the licence of the training data before commercial use.

## How to generate
```python
import simba_music  # registers the model with the transformers auto classes
from transformers import pipeline

pipe = pipeline("text-to-music", model="{repo_id}")
out = pipe("calm piano in a minor key", duration=10.0, guidance_scale=3.0, seed=0)
# out["audio"]: float32 [samples] (mono; [channels, samples] for stereo) at out["sampling_rate"]
```
or with the model directly:
```python
from transformers import AutoModelForTextToWaveform, AutoProcessor

model = AutoModelForTextToWaveform.from_pretrained("{repo_id}")
processor = AutoProcessor.from_pretrained("{repo_id}")
audio = model.generate(**processor(["calm piano"]), duration=30.0, seed=0).audio  # [batch, channels, samples]
```
Command line: `simba-music generate "calm piano" --model {repo_id} --duration 30 --output out.wav`.
"""


# This folder is self-contained (relative `from .module import` lines only, one level), so the remote code of a
# saved model is this folder as it is: transformers' loader follows those imports without any rewriting.
MODELING_FOLDER = Path(__file__).parent


def bundle_remote_code(directory: str | os.PathLike) -> list[str]:
    """Copy every module of this folder into `directory`, unchanged, so that
    `from_pretrained(directory, trust_remote_code=True)` works where simba-music is not installed. The package's
    `__init__.py` is left out: the loader imports modules by name, never the folder as a package."""
    written = []
    for module in sorted(MODELING_FOLDER.glob("*.py")):
        if module.name != "__init__.py":
            shutil.copyfile(module, Path(directory, module.name))
            written.append(module.stem)
    return written


__all__ = ["AUTO_MAP", "bundle_remote_code", "model_card", "variant_name"]
