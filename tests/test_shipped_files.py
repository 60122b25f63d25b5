"""Shipped folders (src/simba_music/pretrained/) must not carry the paths of the machine that built them, and stay
within their size budget."""

import json
import re

from simba_music.shipped import PRETRAINED_ROOT

# An absolute POSIX path (two segments at least, so that a tokenizer's "/" token passes), a home-relative or
# Windows drive path, or an installation folder.
_MACHINE_PATH = re.compile(r"^(/[^/\s]+/|~/|[A-Za-z]:[\\/])|site-packages|/home/|/root/")


def _strings(value, where=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")
    elif isinstance(value, str):
        yield where, value


def machine_paths(folder):
    found = []
    for path in sorted(folder.rglob("*.json")):
        for where, text in _strings(json.loads(path.read_text(encoding="utf-8"))):
            if _MACHINE_PATH.search(text):
                found.append(f"{path.relative_to(folder)}{where}: {text}")
    return found


def test_the_scan_finds_absolute_paths(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"a": {"_name_or_path": "/work/x"}, "b": ["C:/m"],
                                                      "c": "relative/ok", "d": "4/4"}))
    assert machine_paths(tmp_path) == ["config.json.a._name_or_path: /work/x", "config.json.b[0]: C:/m"]


def test_no_shipped_json_carries_a_machine_path():
    assert len(list(PRETRAINED_ROOT.rglob("*.json"))) >= 8
    assert machine_paths(PRETRAINED_ROOT) == []


def test_saving_a_loaded_model_config_writes_no_sub_config_paths(tmp_path):
    from transformers import AutoConfig

    import simba_music

    config = AutoConfig.from_pretrained(simba_music.demo_model_path())
    config.audio_encoder._name_or_path = "/some/machine/codec"  # as after from_sub_models_pretrained
    config.save_pretrained(tmp_path)
    assert machine_paths(tmp_path) == []
    assert AutoConfig.from_pretrained(tmp_path).to_dict()["audio_encoder"] == config.to_dict()["audio_encoder"]


def test_the_shipped_weights_stay_under_50_mb_in_all():
    """Issue 18's budget for what the package carries (every model's safetensors, the demo's and both codecs')."""
    weights = sorted(PRETRAINED_ROOT.rglob("*.safetensors"))
    assert {path.parent.name for path in weights} >= {"simba-music-demo", "chorale-codec-16khz",
                                                      "chorale-wavtokenizer-16khz"}
    assert sum(path.stat().st_size for path in weights) < 50_000_000
