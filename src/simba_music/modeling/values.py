"""One home for the values that the library, the command line and the demo page all check or default to.

Plain Python: no torch, no transformers, no imports from the rest of the package. The command line loads this file on
its own (`simba_music_cli.values`) to check a value and show a default before it imports anything heavy;
`sampling.py`, the demo app and the CLI all use these.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

# The paper's sampling (SSM-TTM, pl_inference.py): top-k 250, temperature 1.2, classifier-free guidance 3.
PAPER_GENERATION_DEFAULTS = {"do_sample": True, "top_k": 250, "top_p": 1.0, "temperature": 1.2, "guidance_scale": 3.0}
DEFAULT_DURATION_S = 10.0  # when neither the call nor the saved generation config says
DEFAULT_MAX_DURATION_S = 600.0  # a model config's `max_duration_s` unless it says otherwise

# Sane ranges, checked before any work: beyond them the scaled logits overflow to inf/NaN inside sampling.
MAX_GUIDANCE_SCALE = 100.0
TEMPERATURE_RANGE = (0.01, 100.0)
SEED_LIMIT = 2**64  # torch.Generator.manual_seed takes [0, 2**64)
# Key steering adds strength x (how well a code's chroma fits the key, a correlation in [-1, 1]) to its logit. On the
# demo (CHANGELOG, "Key steering"), 2 follows the key in 22 of 32 demo prompts and names the instrument as often as
# no steering (27 of 32); 4 follows it in 30 but names 23. From about 20 only the best-fitting codes are sampled.
DEFAULT_KEY_STRENGTH = 2.0
MAX_KEY_STRENGTH = 50.0
# Tempo steering adds `strength` x the onset each code would make on the asked beats, and takes a share of that off
# between them (`tempo_steering.py`). 4, with key steering at 3, was chosen on 24 validation captions (CHANGELOG,
# "Tempo steering"); the range of tempi it takes, in beats per minute.
DEFAULT_TEMPO_STRENGTH = 4.0
MAX_TEMPO_STRENGTH = 50.0
TEMPO_BPM_RANGE = (30.0, 300.0)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_guidance_scale(value, name: str = "guidance_scale"):
    """`value` if it is a finite number in [0, MAX_GUIDANCE_SCALE], else a ValueError naming `name` (the CLI passes
    "--guidance", the page "Guidance")."""
    if not _is_number(value) or not 0 <= value <= MAX_GUIDANCE_SCALE:
        raise ValueError(f"{name}: must be a finite number >= 0 and <= {MAX_GUIDANCE_SCALE:g} (1 disables guidance, "
                         f"0 ignores the prompt), got {value!r}")
    return value


def check_temperature(value, name: str = "temperature"):
    low, high = TEMPERATURE_RANGE
    if not _is_number(value) or not low <= value <= high:
        raise ValueError(f"{name}: must be in [{low:g}, {high:g}], got {value!r}")
    return value


def _check_steering_strength(value, name: str, maximum: float, steering: str):
    if not _is_number(value) or not 0 <= value <= maximum:
        raise ValueError(f"{name}: must be in [0, {maximum:g}] (0 turns {steering} steering off), got {value!r}")
    return value


def check_key_strength(value, name: str = "key_strength"):
    return _check_steering_strength(value, name, MAX_KEY_STRENGTH, "key")


def check_tempo_strength(value, name: str = "tempo_strength"):
    return _check_steering_strength(value, name, MAX_TEMPO_STRENGTH, "tempo")


def check_tempo_bpm(value, name: str = "tempo_bpm"):
    low, high = TEMPO_BPM_RANGE
    if not _is_number(value) or not low <= value <= high:
        raise ValueError(f"{name}: must be a tempo in [{low:g}, {high:g}] beats per minute, got {value!r}")
    return value


_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_PATTERN = re.compile(r"^\s*([A-Ga-g])\s*(#|sharp|b|flat|-)?\s+(major|minor)\s*$", re.IGNORECASE)


def per_row(value, rows: int, name: str, what: str) -> list:
    """`value` given once for every row, or as a list of one per row (None for none) -> a list of `rows` values; a
    ValueError naming `name` for a list of another length (`what`: "key", "tempo")."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * rows
    if len(values) != rows:
        raise ValueError(f"{name}: must be one {what} or a list of {rows} (one per prompt, None for none), "
                         f"got {value!r}")
    return values


def parse_key(text, name: str = "key") -> tuple[int, str]:
    """"F major", "B flat minor", "F# minor", "Eb major", "B- major" -> (tonic pitch class 0..11, "major"/"minor")."""
    match = _KEY_PATTERN.match(str(text))
    if match is None:
        raise ValueError(f"{name}: expected '<tonic> major' or '<tonic> minor' (e.g. 'F# minor', 'B flat major'), "
                         f"got {text!r}")
    letter, accidental, mode = match.groups()
    tonic = _NATURALS[letter.upper()]
    if accidental:
        tonic += 1 if accidental.lower() in ("#", "sharp") else -1
    return tonic % 12, mode.lower()


def check_seed(value, name: str = "seed") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name}: must be an int in [0, 2**64), got {value!r}")
    return value


def codec_hop_length(codec_config: dict) -> int | None:
    """Samples per codec frame from a codec's config dict (EnCodec, DAC, WavTokenizer, the pitch codec; as saved in a
    model's config.json): the product of the upsampling ratios, or the field itself for an STFT codec. None if the
    config does not say."""
    if codec_config.get("model_type") == "pitch_codec":
        return codec_config.get("hop_length")
    ratios = codec_config.get("upsampling_ratios")
    return math.prod(ratios) if ratios else None


def codec_frame_rate(codec_config: dict) -> float | None:
    """Codec frames per second: the sampling rate over `codec_hop_length`. Exact, where DacConfig.frame_rate rounds
    up (44.1 kHz / 512 -> 87 instead of 86.13). None if the config does not say."""
    rate, hop = codec_config.get("sampling_rate"), codec_hop_length(codec_config)
    if not rate or not hop:
        return None
    return rate / hop


def saved_generation_defaults(model_dir: str | os.PathLike | None = None) -> dict:
    """`{"duration", "guidance_scale", "temperature", "top_k", "top_p", "source"}` for the model saved in
    `model_dir` (default: the shipped demo model), read from its JSON files without loading it. `source` names the
    file the values came from, or says that the paper's defaults were used."""
    folder = Path(model_dir) if model_dir is not None else shipped_demo_folder()
    saved = _read_json(folder / "generation_config.json") if folder is not None else None
    names = ("guidance_scale", "temperature", "top_k", "top_p")
    defaults = {name: (saved or {}).get(name, PAPER_GENERATION_DEFAULTS[name]) for name in names}
    defaults["duration"] = DEFAULT_DURATION_S
    if saved and saved.get("max_new_tokens"):
        frame_rate = codec_frame_rate((_read_json(folder / "config.json") or {}).get("audio_encoder", {}))
        if frame_rate:
            defaults["duration"] = round(saved["max_new_tokens"] / frame_rate, 3)
    defaults["source"] = str(folder / "generation_config.json") if saved else "the paper's defaults"
    return defaults


def shipped_demo_folder() -> Path | None:
    """The shipped demo's folder (`simba_music/pretrained/simba-music-demo`) of an installed simba-music, or None
    (as in a model folder exported with its code for `trust_remote_code`)."""
    import importlib.util

    spec = importlib.util.find_spec("simba_music")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pretrained" / "simba-music-demo"
    return folder if (folder / "config.json").is_file() else None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


__all__ = ["DEFAULT_DURATION_S", "DEFAULT_KEY_STRENGTH", "DEFAULT_MAX_DURATION_S", "DEFAULT_TEMPO_STRENGTH",
           "MAX_GUIDANCE_SCALE", "MAX_KEY_STRENGTH", "MAX_TEMPO_STRENGTH", "PAPER_GENERATION_DEFAULTS", "SEED_LIMIT",
           "TEMPERATURE_RANGE", "TEMPO_BPM_RANGE", "check_guidance_scale", "check_key_strength", "check_seed",
           "check_temperature", "check_tempo_bpm", "check_tempo_strength", "codec_frame_rate", "codec_hop_length",
           "parse_key", "per_row", "saved_generation_defaults", "shipped_demo_folder"]
