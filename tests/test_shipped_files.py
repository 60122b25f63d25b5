"""Shipped folders (src/simba_music/pretrained/) must not carry the paths of the machine that built them, and stay
within their size budget."""

import json
import re

import torch

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
    scanned = {path.parent.name for path in PRETRAINED_ROOT.rglob("config.json")}
    assert scanned == {"simba-music-demo", "pitch-codec-16khz"}  # the scan reads every shipped folder
    assert machine_paths(PRETRAINED_ROOT) == []


def test_saving_a_loaded_model_config_writes_no_sub_config_paths(tmp_path):
    from transformers import AutoConfig

    import simba_music

    config = AutoConfig.from_pretrained(simba_music.demo_model_path())
    config.audio_encoder._name_or_path = "/some/machine/codec"  # as after from_sub_models_pretrained
    config.save_pretrained(tmp_path)
    assert machine_paths(tmp_path) == []
    assert AutoConfig.from_pretrained(tmp_path).to_dict()["audio_encoder"] == config.to_dict()["audio_encoder"]


def tensor_copies(roots) -> dict:
    """sha256 of a tensor's bytes -> the `folder:tensor` places that hold it, for every tensor over 1 kB in the
    safetensors below `roots`, where two folders hold it: a weight shipped twice. (Within one model, equal tensors
    are the model's own business: an LSTM's two zero-initialised biases, say.)"""
    import hashlib

    from safetensors import safe_open

    places = {}
    for root in roots:
        for path in sorted(root.rglob("*.safetensors")):
            with safe_open(str(path), "pt") as handle:
                for name in handle.keys():  # noqa: SIM118  (a safetensors handle is not iterable)
                    tensor = handle.get_tensor(name)
                    if tensor.numel() * tensor.element_size() > 1024:
                        digest = hashlib.sha256(tensor.contiguous().view(-1).view(torch.uint8).numpy()).hexdigest()
                        places.setdefault(digest, []).append(f"{path.parent.name}:{name}")
    return {digest: where for digest, where in places.items() if len({place.split(':')[0] for place in where}) > 1}


def test_the_scan_finds_a_tensor_stored_twice(tmp_path):
    from safetensors.torch import save_file

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        save_file({"w": torch.arange(1024.0), f"only_{name}": torch.randn(512)}, str(tmp_path / name / "m.safetensors"))
    assert list(tensor_copies([tmp_path]).values()) == [["a:w", "b:w"]]


def test_the_library_ships_each_weight_once_and_only_what_generate_reads():
    """The demo references its codec's folder (`audio_encoder_source`) instead of storing the codec a second time;
    the lab's codec and classifiers ship in simba-music-lab."""
    weights = sorted(PRETRAINED_ROOT.rglob("*.safetensors"))
    assert {path.parent.name for path in weights} == {"simba-music-demo", "pitch-codec-16khz"}
    assert tensor_copies([PRETRAINED_ROOT]) == {}
    assert sum(path.stat().st_size for path in weights) < 25_000_000
