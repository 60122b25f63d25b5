"""A saved model's sampling defaults, read from its `generation_config.json` without loading the model.

The CLI's help and the demo app show these before any weights are loaded (reading two JSON files keeps
`simba-music --help` fast); the model's own `generate()` applies the same values when an argument is left out.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

# The paper's values (the same as the model's PAPER_GENERATION_DEFAULTS), for folders saved without a generation
# config. Kept as plain numbers here so that reading them does not import torch.
_FALLBACK = {"guidance_scale": 3.0, "temperature": 1.2, "top_k": 250, "top_p": 1.0}
_FALLBACK_DURATION_S = 10.0


def saved_generation_defaults(model_dir: str | os.PathLike | None = None) -> dict:
    """`{"duration", "guidance_scale", "temperature", "top_k", "top_p", "source"}` for the model saved in
    `model_dir` (default: the shipped demo model). `source` names the file the values came from, or says
    that the paper's defaults were used."""
    if model_dir is None:
        from .shipped import demo_model_path

        model_dir = demo_model_path()
    folder = Path(model_dir) if model_dir is not None else None
    saved = _read_json(folder / "generation_config.json") if folder is not None else None
    defaults = {name: (saved or {}).get(name, value) for name, value in _FALLBACK.items()}
    defaults["duration"] = _FALLBACK_DURATION_S
    if saved and saved.get("max_new_tokens"):
        frame_rate = _frame_rate(folder)
        if frame_rate:
            defaults["duration"] = round(saved["max_new_tokens"] / frame_rate, 3)
    defaults["source"] = str(folder / "generation_config.json") if saved else "the paper's defaults"
    return defaults


def _frame_rate(folder: Path) -> float | None:
    codec = (_read_json(folder / "config.json") or {}).get("audio_encoder", {})
    ratios = [codec["hop_length"]] if codec.get("model_type") == "pitch_codec" else codec.get("upsampling_ratios")
    if not ratios or not codec.get("sampling_rate"):
        return None
    return codec["sampling_rate"] / math.prod(ratios)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


__all__ = ["saved_generation_defaults"]
