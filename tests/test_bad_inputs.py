"""The bad-input catalogue: every case raises the stated exception, names the parameter, and leaves no file behind.

The "Bad input and safety" table of docs/REFERENCE.md summarises these cases.
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile
import torch

from simba_music.testing_utils import tiny_text_to_music
from tests.conftest import tiny_config

# The tiny T5 composite and its saved folder, shared with tests/text_to_music.


@pytest.fixture
def composite(t5_model):
    return t5_model


@pytest.fixture
def saved(saved_dir):
    return saved_dir


def _captions(processor, text="calm piano"):
    return processor([text])


CONFIG_CASES = [
    ("unknown sublayer kind", dict(block_pattern=["mamba2", "conv"]), "block_pattern"),
    ("head size that does not divide", dict(head_dim=24), "head_dim"),
    ("attention heads that do not divide", dict(block_pattern=["attention"], num_attention_heads=5),
     "num_attention_heads"),
    ("negative size", dict(hidden_size=-8), "hidden_size"),
    ("vocabulary not codebook + special", dict(vocab_size=40), "vocab_size"),
    ("size of the wrong type", dict(state_size="big"), "state_size"),
    ("NaN dropout", dict(dropout=float("nan")), "dropout"),
    ("cross-attention with prefix conditioning", dict(block_pattern=["mamba2", "cross_attention"]), "block_pattern"),
]


@pytest.mark.parametrize("name,overrides,parameter", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config(name, overrides, parameter):
    with pytest.raises(ValueError, match=rf"\b{parameter}\b"):
        tiny_config("prefix_simba", **overrides)


GENERATE_CASES = [
    ("NaN guidance", dict(guidance_scale=float("nan")), ValueError, "guidance_scale"),
    ("negative guidance", dict(guidance_scale=-1.0), ValueError, "guidance_scale"),
    ("temperature 0", dict(temperature=0.0), ValueError, "temperature"),
    ("top_p 0", dict(top_p=0.0), ValueError, "top_p"),
    ("top_p above 1", dict(top_p=1.5), ValueError, "top_p"),
    ("negative top_k", dict(top_k=-1), ValueError, "top_k"),
    ("duration 0", dict(duration=0.0), ValueError, "duration"),
    ("duration above the maximum", dict(duration=10_000.0), ValueError, "duration"),
    ("seed of the wrong type", dict(seed="42"), ValueError, "seed"),
    ("audio prompt of rank 4", dict(audio_prompt=torch.zeros(1, 1, 1, 800)), ValueError, "audio_prompt"),
    ("empty audio prompt", dict(audio_prompt=torch.zeros(0)), ValueError, "audio_prompt"),
    ("all-NaN audio prompt", dict(audio_prompt=torch.full((800,), float("nan"))), ValueError, "audio_prompt"),
    ("8-channel audio prompt", dict(audio_prompt=torch.zeros(8, 800)), ValueError, "audio_prompt"),
    ("integer audio prompt", dict(audio_prompt=torch.zeros(800, dtype=torch.int16)), TypeError, "audio_prompt"),
]


@pytest.mark.parametrize("name,kwargs,error,parameter", GENERATE_CASES, ids=[c[0] for c in GENERATE_CASES])
def test_generate(composite, name, kwargs, error, parameter):
    model, processor = composite
    with pytest.raises(error, match=rf"\b{parameter}\b"):
        model.generate(**_captions(processor), max_new_tokens=None if "duration" in kwargs else 2,
                       progress_bar=False, **kwargs)


PROMPT_CASES = [
    ("empty prompt", "", ValueError, r"text\[0\]"),
    ("blank prompt", "   ", ValueError, r"text\[0\]"),
    ("None prompt", None, TypeError, "text"),
    ("non-string prompt", 42, TypeError, "text"),
    ("list with a non-string", ["piano", 3], TypeError, r"text\[1\]"),
]


@pytest.mark.parametrize("name,prompt,error,parameter", PROMPT_CASES, ids=[c[0] for c in PROMPT_CASES])
def test_prompts_through_the_pipeline(composite, name, prompt, error, parameter):
    from simba_music.pipelines import TextToMusicPipeline

    model, processor = composite
    pipe = TextToMusicPipeline(model=model, tokenizer=processor.tokenizer,
                               feature_extractor=processor.feature_extractor)
    with pytest.raises(error, match=parameter):
        pipe(prompt, duration=0.2)


def test_an_8_khz_prompt_is_resampled_with_a_warning(composite):
    model, processor = composite
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model.generate(**_captions(processor), max_new_tokens=2, audio_prompt=torch.zeros(4000).uniform_(-.5, .5),
                             audio_prompt_sampling_rate=4000, progress_bar=False)
    assert any("resampling from 4000 Hz" in str(w.message) for w in caught)
    assert out.sequences.shape[-1] >= 2


def test_mismatched_codec_and_decoder_are_refused():
    from simba_music import SimbaMusicForCausalLM
    from simba_music.modeling.conditional_generation import SimbaMusicForConditionalGeneration

    model = tiny_text_to_music("t5")  # its codec has 64 codes: the decoder needs vocab_size 65
    decoder = SimbaMusicForCausalLM(tiny_config("prefix_simba", text_hidden_size=16, vocab_size=33,
                                                special_token_id=32))
    with pytest.raises(ValueError, match="vocab_size"):
        SimbaMusicForConditionalGeneration(text_encoder=model.text_encoder, audio_encoder=model.audio_encoder,
                                           decoder=decoder)


LOADING_CASES = ["truncated safetensors", "wrong model_type", "missing shard", "missing directory offline"]


@pytest.mark.parametrize("case", LOADING_CASES)
def test_loading(saved, tmp_path, case):
    import shutil

    from transformers import AutoModelForTextToWaveform

    broken = tmp_path / "broken"
    shutil.copytree(saved, broken)
    weights = broken / "model.safetensors"
    if case == "truncated safetensors":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        expected = r"pretrained_model_name_or_path=.*broken.*truncated or corrupt"
    elif case == "wrong model_type":
        config = json.loads((broken / "config.json").read_text())
        config["model_type"] = "not_a_model"
        config.pop("auto_map", None)
        (broken / "config.json").write_text(json.dumps(config))
        expected = "not_a_model"
    elif case == "missing shard":
        index = {"metadata": {}, "weight_map": {"decoder.lm_head.0.weight": "model-00002-of-00002.safetensors"}}
        (broken / "model.safetensors.index.json").write_text(json.dumps(index))
        weights.unlink()
        expected = "model-00002-of-00002"
    else:
        broken = tmp_path / "does-not-exist"
        expected = "does-not-exist"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises((OSError, ValueError, KeyError, RuntimeError, EnvironmentError), match=expected):
        AutoModelForTextToWaveform.from_pretrained(broken)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.slow
def test_missing_directory_fails_fast_offline(tmp_path):
    """A path that is neither a folder nor a cached Hub id: transformers' OSError (its message points at offline
    mode, not at the path), raised at once instead of ~30 s of retries."""
    code = ("import time, simba_music; from transformers import AutoModelForTextToWaveform; t = time.time()\n"
            "try:\n    AutoModelForTextToWaveform.from_pretrained('no/such-model-dir')\n"
            "except OSError as e:\n    print(round(time.time() - t, 1), 'offline' in str(e))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds, mentions_offline = result.stdout.split()
    assert mentions_offline == "True" and float(seconds) < 10


AUDIO_FILE_CASES = [
    ("empty", lambda p: soundfile.write(p, np.zeros((0, 1), np.float32), 16000), "empty"),
    ("all NaN", lambda p: soundfile.write(p, np.full((16000, 1), np.nan, np.float32), 16000, subtype="FLOAT"), "nan"),
    ("not audio, named .wav", lambda p: p.write_bytes(b"<html>not a wav</html>"), "corrupt"),
    ("silent", lambda p: soundfile.write(p, np.zeros((16000, 1), np.float32), 16000), "silent"),
    ("missing file", lambda p: None, "missing"),
]


@pytest.mark.parametrize("name,make,reason", AUDIO_FILE_CASES, ids=[c[0] for c in AUDIO_FILE_CASES])
def test_bad_audio_files_are_skipped_and_counted(tmp_path, name, make, reason):
    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music.testing_utils import tiny_random_codec
    from simba_music.training.preprocess import preprocess, read_manifest

    make(tmp_path / "clip.wav")
    soundfile.write(tmp_path / "good.wav", np.full((16000, 1), 0.25, np.float32), 16000)
    rows = [{"audio": "clip.wav", "caption": "x"}, {"audio": "good.wav", "caption": "y"}]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    summary = preprocess(read_manifest(str(tmp_path / "manifest.jsonl")), AudioCodec(tiny_random_codec()),
                         str(tmp_path / "out"), segment_seconds=1.0, min_seconds=0.5, progress=False)
    assert summary["skipped"] == {reason: 1} and summary["segments"] == 1
    # With only the bad file, nothing is encoded: an error naming the reason, and no empty dataset is written.
    (tmp_path / "manifest.jsonl").write_text(json.dumps(rows[0]))
    with pytest.raises(ValueError, match=rf"no segment was encoded from 1 file\(s\) \(skipped: {{'{reason}': 1}}"):
        preprocess(read_manifest(str(tmp_path / "manifest.jsonl")), AudioCodec(tiny_random_codec()),
                   str(tmp_path / "out2"), segment_seconds=1.0, min_seconds=0.5, progress=False)
    assert not (tmp_path / "out2").exists()


def test_eight_channel_and_ten_hour_prompts_are_refused_before_any_work(composite):
    model, processor = composite
    with pytest.raises(ValueError, match="audio_prompt"):
        model.generate(**_captions(processor), max_new_tokens=2, audio_prompt=np.zeros((8, 8000), np.float32),
                       progress_bar=False)
    ten_hours = torch.zeros(1, 1, 1)  # shape only matters for the length check
    ten_hours = ten_hours.expand(1, 1, 10 * 3600 * model.config.sampling_rate)
    with pytest.raises(ValueError, match="audio_prompt|max_new_tokens|duration"):
        model.generate(**_captions(processor), max_new_tokens=2, audio_prompt=ten_hours, progress_bar=False)


CLI_CASES = [
    ("output is a directory", lambda d: str(d), "--output"),
    ("unwritable output path", lambda d: str(d / "missing" / "out.wav"), "--output"),
]


@pytest.mark.parametrize("name,output,parameter", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_output_paths(tmp_path, capsys, name, output, parameter):
    from simba_music.cli import main

    with pytest.raises(SystemExit) as error:
        main(["generate", "piano", "--output", output(tmp_path), "--duration", "0.2", "--quiet"])
    assert error.value.code == 2 and parameter in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_catalogue_has_at_least_25_cases():
    count = (len(CONFIG_CASES) + len(GENERATE_CASES) + len(PROMPT_CASES) + len(LOADING_CASES) + len(AUDIO_FILE_CASES)
             + len(CLI_CASES) + 4)
    assert count >= 25
