"""Hub integration of the text-to-music model: the model card and the `auto_map` written into saved configs."""

from __future__ import annotations

import os
import re
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
    "AutoConfig": "configuration_text_to_music.SimbaMusicForConditionalGenerationConfig",
    "AutoModel": "text_to_music.SimbaMusicForConditionalGeneration",
    "AutoModelForTextToWaveform": "text_to_music.SimbaMusicForConditionalGeneration",
}


def variant_name(decoder_config) -> str:
    key = (tuple(decoder_config.block_pattern), decoder_config.conditioning)
    name = VARIANT_NAMES.get(key, f"custom block pattern {list(key[0])}, {key[1]} conditioning")
    if decoder_config.hybrid_attention_layers:
        name += f", hybrid attention in layers {decoder_config.hybrid_attention_layers}"
    return name


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
  {generation.guidance_scale} (conditional and unconditional rows in one batch; unconditional = empty caption).

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


PACKAGE_ROOT = Path(__file__).parent
# The modules `auto_map` names; the bundle is these plus everything they import from the package.
REMOTE_CODE_ENTRY_POINTS = ("configuration_text_to_music", "text_to_music")
_PACKAGE_IMPORT = re.compile(r"^([ \t]*from\s+)(?:\.\.|\.modeling\.|\.)(\w+)(\s+import)", re.MULTILINE)
_SIBLING_IMPORT = re.compile(r"^([ \t]*)from\s+\.\s+import\s+([\w, ]+)$", re.MULTILINE)


def _package_file(name: str) -> Path:
    for candidate in (PACKAGE_ROOT / f"{name}.py", PACKAGE_ROOT / "modeling" / f"{name}.py"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"remote code bundle: no module {name!r} in {PACKAGE_ROOT}")


def _flatten_imports(source: str) -> str:
    """Rewrite the package's nested relative imports for one flat folder. transformers copies a remote module's
    dependencies by scanning for `from .name import`, so `from . import name` also gets such a line."""
    source = _PACKAGE_IMPORT.sub(r"\1.\2\3", source)

    def expand(match: re.Match) -> str:
        indent, names = match.group(1), [n.strip() for n in match.group(2).split(",") if n.strip()]
        extra = "".join(f"\n{indent}from .{n} import __name__ as _bundled_{n}  # noqa: F401" for n in names)
        return match.group(0) + extra

    return _SIBLING_IMPORT.sub(expand, source)


def bundle_remote_code(directory: str | os.PathLike) -> list[str]:
    """Copy the modules behind `AUTO_MAP` (and what they import from the package) into `directory`, flattened,
    so that `from_pretrained(directory, trust_remote_code=True)` works where simba-music is not installed."""
    pending, written = list(REMOTE_CODE_ENTRY_POINTS), []
    while pending:
        name = pending.pop()
        if name in written:
            continue
        source = _flatten_imports(_package_file(name).read_text(encoding="utf-8"))
        Path(directory, f"{name}.py").write_text(source, encoding="utf-8")
        written.append(name)
        pending.extend(re.findall(r"^\s*from\s+\.(\w+)\s+import", source, flags=re.MULTILINE))
    return sorted(written)


__all__ = ["AUTO_MAP", "bundle_remote_code", "model_card", "variant_name"]
