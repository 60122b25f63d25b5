import pytest
import torch
from transformers import AutoConfig, AutoModelForTextToWaveform, AutoProcessor

from simba_music import (
    SimbaMusicConfig,
    SimbaMusicForCausalLM,
    SimbaMusicForConditionalGeneration,
    SimbaMusicForConditionalGenerationConfig,
    SimbaMusicProcessor,
)
from simba_music.testing_utils import tiny_codec, tiny_model_and_processor, tiny_text_encoder, tiny_tokenizer

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def decoder(**overrides):
    options = dict(hidden_size=32, num_hidden_layers=1, state_size=8, head_dim=16, chunk_size=8, text_hidden_size=16,
                   vocab_size=65, special_token_id=64)
    options.update(overrides)
    return SimbaMusicForCausalLM(SimbaMusicConfig(**options))


@pytest.mark.parametrize("kind", ["t5", "bert"])
def test_composite_from_instances_exposes_rates_and_freezes_conditioning(kind):
    codec = tiny_codec()
    codebook = codec.quantizer.layers[0].codebook.embed.clone()
    model = SimbaMusicForConditionalGeneration(text_encoder=tiny_text_encoder(kind), audio_encoder=codec,
                                               decoder=decoder())
    assert model.config.sampling_rate == 8000 and model.config.frame_rate == 12.5
    assert torch.equal(model.audio_encoder.quantizer.layers[0].codebook.embed, codebook)  # not re-initialised
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    assert all(p.requires_grad for p in model.decoder.parameters())
    model.train()
    assert not model.text_encoder.training and model.decoder.training
    hidden = model.encode_text(torch.tensor([[4, 5, 1]]))
    assert hidden.shape == (1, 3, 16)


def test_decoder_vocabulary_must_fit_the_codec():
    with pytest.raises(ValueError, match=r"decoder.vocab_size: must be the codec's codebook_size \+ 1 = 65"):
        SimbaMusicForConditionalGeneration(text_encoder=tiny_text_encoder(), audio_encoder=tiny_codec(),
                                           decoder=decoder(vocab_size=129, special_token_id=128))
    with pytest.raises(ValueError, match="decoder.text_hidden_size: must equal the text encoder's hidden size 16"):
        SimbaMusicForConditionalGeneration(text_encoder=tiny_text_encoder(), audio_encoder=tiny_codec(),
                                           decoder=decoder(text_hidden_size=24))
    with pytest.raises(ValueError, match=r"num_codebooks: must be in \[1, 12\]"):
        SimbaMusicForConditionalGeneration(text_encoder=tiny_text_encoder(), audio_encoder=tiny_codec(),
                                           decoder=decoder(num_codebooks=13))


def test_training_forward_returns_a_finite_loss(t5_model):
    model, processor = t5_model
    captions = processor(["calm piano", "fast drums"])
    codes = torch.cat([torch.full((2, 1), 64), torch.randint(0, 64, (2, 12))], dim=1)
    output = model(**captions, decoder_input_ids=codes, labels=codes)
    assert output.logits.shape == (2, 13, 65) and torch.isfinite(output.loss)


def test_training_forward_honours_return_dict_and_returns_decoder_hidden_states():
    model, processor = tiny_model_and_processor("t5")
    captions = processor(["calm piano", "fast drums"])
    codes = torch.cat([torch.full((2, 1), 64), torch.randint(0, 64, (2, 12))], dim=1)
    with torch.no_grad():
        output = model(**captions, decoder_input_ids=codes, labels=codes, output_hidden_states=True)
        loss, logits, hidden_states = model(**captions, decoder_input_ids=codes, labels=codes,
                                            output_hidden_states=True, return_dict=False)[:3]
        model.config.return_dict = False  # the composite's own setting; generation is unaffected
        assert isinstance(model(**captions, decoder_input_ids=codes), tuple)
        sequences = model.generate(**captions, max_new_tokens=2, seed=0, progress_bar=False).sequences
    assert sequences.shape == (2, 1, 2)
    torch.testing.assert_close(loss, output.loss)
    torch.testing.assert_close(logits, output.logits)
    assert [tuple(h.shape) for h in output.hidden_states] == [(2, 13, 32)] * 3
    torch.testing.assert_close(hidden_states[-1], output.last_hidden_state)


@pytest.mark.parametrize("kind", ["t5", "bert"])
def test_save_load_round_trip_through_auto_classes(tmp_path, kind, request):
    model, processor = request.getfixturevalue(f"{kind}_model")
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json"} <= files
    from safetensors import safe_open

    with safe_open(tmp_path / "model.safetensors", "pt") as handle:
        prefixes = {key.split(".")[0] for key in handle.keys()}  # noqa: SIM118  (safe_open handles are not iterable)
    assert prefixes == {"text_encoder", "audio_encoder", "decoder"}

    assert isinstance(AutoConfig.from_pretrained(tmp_path), SimbaMusicForConditionalGenerationConfig)
    loaded = AutoModelForTextToWaveform.from_pretrained(tmp_path)
    loaded_processor = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, SimbaMusicForConditionalGeneration)
    assert isinstance(loaded_processor, SimbaMusicProcessor) and loaded_processor.text_max_length == 8
    original, reloaded = model.state_dict(), loaded.state_dict()
    assert original.keys() == reloaded.keys()
    assert all(torch.equal(original[key], reloaded[key]) for key in original)
    assert loaded.generation_config.top_k == 250 and loaded.generation_config.guidance_scale == 3.0
    captions = loaded_processor(["calm piano"])
    first = model.generate(**captions, max_new_tokens=6, seed=3, progress_bar=False)
    second = loaded.generate(**captions, max_new_tokens=6, seed=3, progress_bar=False)
    assert torch.equal(first.sequences, second.sequences)
    assert torch.allclose(first.audio, second.audio)


def test_from_sub_models_pretrained(tmp_path):
    tiny_text_encoder("bert").save_pretrained(tmp_path / "text")
    tiny_codec().save_pretrained(tmp_path / "codec")
    decoder().save_pretrained(tmp_path / "decoder")
    model = SimbaMusicForConditionalGeneration.from_sub_models_pretrained(
        text_encoder_pretrained_model_name_or_path=tmp_path / "text",
        audio_encoder_pretrained_model_name_or_path=tmp_path / "codec",
        decoder_pretrained_model_name_or_path=tmp_path / "decoder")
    assert model.config.text_encoder.model_type == "bert" and model.config.audio_encoder.model_type == "encodec"
    assert not model.training
    tokenizer = tiny_tokenizer(kind="bert")
    SimbaMusicProcessor.for_model(model, tokenizer)
    assert model.config.empty_caption_ids == [1, 2]  # [CLS] [SEP]
    with pytest.raises(ValueError, match="decoder_pretrained_model_name_or_path: required"):
        SimbaMusicForConditionalGeneration.from_sub_models_pretrained(tmp_path / "text", tmp_path / "codec")


def test_default_config_is_the_released_layout():
    config = SimbaMusicForConditionalGenerationConfig()
    assert (config.text_encoder.model_type, config.text_encoder.d_model) == ("t5", 768)
    assert (config.audio_encoder.model_type, config.sampling_rate) == ("dac", 44100)
    assert abs(config.frame_rate - 86.13) < 0.01 and config.decoder.vocab_size == 1025
    assert config.max_duration_s == 600.0


def test_saved_generation_defaults_come_back(tmp_path):
    # Our sampling loop is not GenerationMixin's, so transformers does not reload generation_config.json for us.
    model, _ = tiny_model_and_processor("t5")
    model.generation_config.guidance_scale, model.generation_config.temperature = 5.0, 0.9
    model.save_pretrained(tmp_path)
    loaded = SimbaMusicForConditionalGeneration.from_pretrained(tmp_path)
    assert loaded.generation_config.guidance_scale == 5.0 and loaded.generation_config.temperature == 0.9
    assert tiny_model_and_processor("t5")[0].generation_config.guidance_scale == 3.0  # the class default is untouched
