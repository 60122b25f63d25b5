"""Silent wrong results and unclear errors (issue 14): broken weights, unreadable configs, prompts that are empty in
disguise or too long, a processor that disagrees with its model, seeds and sampling settings out of range, bad
manifests and converter paths. Each case failed on the main branch before the fix."""

import copy
import json
import shutil
import warnings

import pytest
import torch

from simba_music.cli import main


def _generate(model, processor, prompt="calm piano", **kwargs):
    return model.generate(**processor([prompt]), max_new_tokens=3, seed=0, progress_bar=False, **kwargs)


# --- broken weights ---------------------------------------------------------------------------------------------------

def test_a_codec_with_nan_weights_is_an_error_not_full_scale_noise(t5_model):
    model, processor = t5_model
    broken = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in broken.audio_encoder.decoder.parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="audio_encoder: the codec decoded non-finite audio"):
        _generate(broken, processor)


def test_a_decoder_with_nan_weights_is_an_error(t5_model):
    model, processor = t5_model
    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.decoder.lm_head[0].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="decoder: produced non-finite logits"):
        _generate(broken, processor, return_audio=False)


def _copy(saved, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(saved, target)
    return target


@pytest.mark.slow
def test_missing_decoder_weights_are_an_error_unless_not_strict(saved_dir, tmp_path):
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForTextToWaveform

    folder = _copy(saved_dir, tmp_path)
    weights = load_file(str(folder / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if not k.startswith("decoder.lm_head")},
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"weights do not fit .* missing \['decoder\.lm_head"):
        AutoModelForTextToWaveform.from_pretrained(folder)
    assert AutoModelForTextToWaveform.from_pretrained(folder, strict=False) is not None


def test_a_foreign_pytorch_model_bin_is_an_error(saved_dir, tmp_path):
    from transformers import AutoModelForTextToWaveform

    folder = _copy(saved_dir, tmp_path)
    (folder / "model.safetensors").unlink()
    torch.save({"encoder.layer.0.weight": torch.zeros(2, 2)}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"unexpected \['encoder\.layer\.0\.weight'\]"):
        AutoModelForTextToWaveform.from_pretrained(folder)


def test_a_generation_config_that_is_not_json_is_an_error_naming_the_file(saved_dir, tmp_path):
    from transformers import AutoModelForTextToWaveform

    folder = _copy(saved_dir, tmp_path)
    (folder / "generation_config.json").write_text("{guidance_scale: 5,")
    with pytest.raises(ValueError, match=r"generation_config\.json: not a valid generation config"):
        AutoModelForTextToWaveform.from_pretrained(folder)


# --- prompts ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["\x00\x00\x00", "\u200b\u200c\u200d", "\ufeff \u2060"])
def test_a_prompt_that_is_empty_in_disguise_is_refused(t5_model, prompt):
    _, processor = t5_model
    with pytest.raises(ValueError, match=r"text\[0\]: .*non-empty strings"):
        processor([prompt])


def test_a_prompt_of_only_unknown_tokens_is_refused(t5_model):
    _, processor = t5_model
    with pytest.raises(ValueError, match=r"text\[0\]: the prompt .* tokenises to nothing"):
        processor(["\U0001f3b9\U0001f3b9"])


def test_the_blank_prompt_message_shows_the_prompt():
    from simba_music.modeling.processing import check_prompts

    with pytest.raises(ValueError, match=r"got '   '$"):
        check_prompts("   ")


def test_an_overlong_prompt_warns_once_with_the_tokens_kept(t5_model):
    _, processor = t5_model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = processor(["piano " * 10_000])["input_ids"]
    messages = [str(w.message) for w in caught if "text_max_length" in str(w.message)]
    assert len(messages) == 1 and f"only the first {processor.text_max_length} tokens are kept" in messages[0]
    assert ids.shape[1] == processor.text_max_length


def test_the_models_text_max_length_wins_over_a_saved_processors(saved_dir, tmp_path):
    from transformers import AutoModelForTextToWaveform, AutoProcessor

    folder = _copy(saved_dir, tmp_path)  # as in the report: a processor saved with 8 tokens, a model with 36
    for name, length in (("processor_config.json", 8), ("config.json", 36)):
        config = json.loads((folder / name).read_text())
        (folder / name).write_text(json.dumps({**config, "text_max_length": length}))
    with pytest.warns(UserWarning, match="the processor says 8 but the model .* says 36; using the model's 36"):
        processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForTextToWaveform.from_pretrained(folder)
    prompts = ["a slow and calm and gentle piano piece in G major", "a slow and calm and gentle piano piece in D minor"]
    inputs = [processor([prompt]) for prompt in prompts]
    assert inputs[0]["input_ids"].shape[1] == 36
    texts = [model.encode_text(**i) for i in inputs]
    assert not torch.equal(texts[0], texts[1])  # the keys reach the text encoder
    codes = torch.tensor([[64, 1, 2, 3]])  # the decoder's special start id, then three codes
    logits = [model(**i, decoder_input_ids=codes).logits for i in inputs]
    assert not torch.equal(logits[0], logits[1])  # (with the processor's 8 tokens both prompts were one caption)


# --- sampling settings ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,parameter", [
    (dict(seed=2**64), "seed"), (dict(seed=-1), "seed"), (dict(guidance_scale=1e308), "guidance_scale"),
    (dict(temperature=float("inf")), "temperature"), (dict(temperature=1e-300), "temperature"),
], ids=["seed 2**64", "negative seed", "guidance 1e308", "temperature inf", "temperature 1e-300"])
def test_out_of_range_sampling_settings_are_refused_by_name(t5_model, kwargs, parameter):
    model, processor = t5_model
    with pytest.raises(ValueError, match=rf"^{parameter}: must be"):
        model.generate(**processor(["piano"]), max_new_tokens=2, progress_bar=False, **kwargs)


@pytest.mark.parametrize("option,value", [("--seed", str(2**64)), ("--guidance", "1e308")])
def test_cli_sampling_options_out_of_range(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as error:
        main(["generate", "piano", "--model", "random", "--output", str(tmp_path / "o.wav"), option, value])
    assert error.value.code == 2 and option in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- manifests --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ('{"audio": "a.wav", "caption": "x"}\n{"audio": "b.wav", "caption": 42}\n',
     r"line 2: 'caption' must be a non-empty string, got 42"),
    ('{"audio": null, "caption": "x"}\n', r"line 1: 'audio' must be a non-empty string, got None"),
    ('{"audio": "a.wav", "caption": "x"}\n\n{"audio": "b.wav", "caption": "y"\n',
     r"line 3: not valid JSON"),
    ("\n\n", "no rows"),
], ids=["caption 42", "audio null", "bad JSON line", "no rows"])
def test_bad_manifests_name_the_line_and_field(tmp_path, text, expected):
    from simba_music.training.preprocess import read_manifest

    (tmp_path / "manifest.jsonl").write_text(text)
    with pytest.raises(ValueError, match=expected):
        read_manifest(str(tmp_path / "manifest.jsonl"))


# --- converter paths --------------------------------------------------------------------------------------------------

def test_converter_paths_get_clear_messages(tmp_path):
    from simba_music.conversion.convert import convert_checkpoint

    (tmp_path / "notes.txt").write_text("not a checkpoint")
    (tmp_path / "run").mkdir()
    with pytest.raises(ValueError, match=r"--checkpoint: .*run' is a folder; give the Lightning \.ckpt file"):
        convert_checkpoint(str(tmp_path / "run"), None, str(tmp_path / "out"))
    with pytest.raises(ValueError, match=r"--checkpoint: .*notes\.txt' is not a PyTorch checkpoint"):
        convert_checkpoint(str(tmp_path / "notes.txt"), None, str(tmp_path / "out"))
    torch.save({"state_dict": {}}, tmp_path / "tiny.ckpt")
    with pytest.raises(ValueError, match=r"--output: .*notes\.txt' exists and is not a folder"):
        convert_checkpoint(str(tmp_path / "tiny.ckpt"), None, str(tmp_path / "notes.txt"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "run", "tiny.ckpt"]
