"""recipes/: the configs build the decoders the recipe trains, and assemble.py turns a decoder into a model that
loads and generates."""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from transformers import AutoModel

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM, SimbaMusicForConditionalGeneration
from simba_music.modeling.values import DEFAULT_TEMPO_STRENGTH
from simba_music_lab.codec.pretrained import PITCH_CODEC, WAVTOKENIZER_CODEC, pretrained_codec_path

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("name", ["prefix_simba", "cross_transformer", "cross_simba"])
def test_configs_build_decoders_of_comparable_size(name):
    config = SimbaMusicConfig(**json.loads((RECIPES / "configs" / f"{name}.json").read_text()))
    with torch.device("meta"):
        parameters = sum(p.numel() for p in SimbaMusicForCausalLM(config).parameters())
    assert 5.9e6 < parameters < 6.7e6, parameters  # within 5% of each other: the comparison is fair


@pytest.mark.slow
@pytest.mark.parametrize("codec", [None, WAVTOKENIZER_CODEC, "a copy outside the package"])
def test_assemble_makes_a_model_that_loads_and_generates(tmp_path, codec):
    config = json.loads((RECIPES / "configs" / "prefix_simba.json").read_text())
    config.update(hidden_size=32, num_hidden_layers=2, state_size=8, head_dim=16, num_attention_heads=2, chunk_size=8)
    SimbaMusicForCausalLM(SimbaMusicConfig(**config)).save_pretrained(tmp_path / "decoder")
    codec_folder = pretrained_codec_path(WAVTOKENIZER_CODEC if codec else PITCH_CODEC)
    if codec == "a copy outside the package":
        codec_folder = Path(shutil.copytree(codec_folder, tmp_path / "codec"))
    codec_arguments = [] if codec is None else ["--codec", str(codec_folder)]
    result = subprocess.run([sys.executable, str(RECIPES / "assemble.py"), "--decoder", str(tmp_path / "decoder"),
                             "--output", str(tmp_path / "model"), *codec_arguments],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["max_logit_change_from_float16_storage"] < 0.05, report
    model = SimbaMusicForConditionalGeneration.from_pretrained(tmp_path / "model").eval()
    assert model.audio_encoder.config.model_type == ("pitch_codec" if codec is None else "wavtokenizer")
    # a codec whose codes carry pitch: the model steers toward the key its captions state
    assert getattr(model.generation_config, "key_strength", None) == (3.0 if codec is None else None)
    assert model.generation_config.tempo_strength == DEFAULT_TEMPO_STRENGTH  # any codec: tempo needs no pitch
    # A shipped codec is referenced (the package carries its weights once); any other is saved with the model.
    shipped = codec != "a copy outside the package"
    package = "simba_music" if codec is None else "simba_music_lab"
    assert model.config.audio_encoder_source == (f"python:{package}/pretrained/{codec_folder.name}" if shipped
                                                 else None)
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as weights:
        names = weights.keys()
    assert any(name.startswith("audio_encoder.") for name in names) is not shipped
    reference = AutoModel.from_pretrained(codec_folder).state_dict()
    for name, tensor in model.audio_encoder.state_dict().items():
        assert torch.equal(tensor, reference[name].float()), name
    assert model.generation_config.guidance_scale == 5.0
    from transformers import AutoProcessor
    processor = AutoProcessor.from_pretrained(tmp_path / "model")
    inputs = processor(text=["a slow chorale"], return_tensors="pt")
    audio = model.generate(**inputs, max_new_tokens=8, do_sample=False, progress_bar=False).audio
    assert audio.shape[:2] == (1, 1) and audio.shape[-1] > 0 and torch.isfinite(audio).all()


def _pitch_demo_recipe(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, RECIPES / "pitch_demo" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _key_diagnostics():
    return _pitch_demo_recipe("key_diagnostics")


def _clips(count: int, key_decides: bool, seed: int) -> dict:
    """Clips of 30 codes out of 8: each instrument plays its own 4 codes; with `key_decides`, the key picks which two
    of them (a key-dependent code set), else the key is noise."""
    rng = np.random.default_rng(seed)
    instruments, keys = rng.integers(0, 2, count), rng.integers(0, 2, count)
    codes = []
    for instrument, key in zip(instruments, keys, strict=True):
        pool = 4 * instrument + (2 * key + np.arange(2) if key_decides else np.arange(4))
        codes.append(rng.choice(pool, 30))
    return {"codes": codes, "instrument": instruments.tolist(), "key": keys.tolist()}


def test_the_key_oracle_finds_a_key_that_decides_the_codes_and_no_gain_from_a_key_that_does_not():
    diagnostics = _key_diagnostics()
    decided = diagnostics.oracle(_clips(400, True, 0), _clips(100, True, 1), 8, alpha=1.0)
    # Instrument alone: 4 equally likely codes (log 4 nats); with the key: 2 (log 2).
    assert decided["instrument"] == pytest.approx(np.log(4), abs=0.03)
    assert decided["instrument_and_key"] == pytest.approx(np.log(2), abs=0.03)
    assert decided["gain_of_the_key"] == pytest.approx(np.log(2), abs=0.05)
    noise = diagnostics.oracle(_clips(400, False, 0), _clips(100, False, 1), 8, alpha=1.0)
    assert abs(noise["gain_of_the_key"]) < 0.02


def test_the_probe_reads_a_linearly_held_label_and_not_a_missing_one():
    pytest.importorskip("sklearn")  # librosa's dependency
    probe_accuracy = _key_diagnostics().probe_accuracy
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    held = rng.normal(size=(400, 16))
    held[:, 3] += 8.0 * labels  # one direction carries the label
    assert probe_accuracy(held, labels.tolist(), 300) > 0.9
    assert probe_accuracy(rng.normal(size=(400, 16)), labels.tolist(), 300) < 0.45  # chance: 0.25


def test_key_continuation_counts_each_layer_against_the_rendered_key():
    summarise = _pitch_demo_recipe("key_continuation").summarise
    c_major, a_minor, g_major = (0, "major"), (9, "minor"), (7, "major")

    def clip(key, original, round_trip, continuation, first, second):
        return {"key": key, "librosa": {"original": original, "round_trip": round_trip,
                                        "continuation": continuation, "first_half": first, "second_half": second}}

    clips = [clip(c_major, c_major, c_major, c_major, c_major, c_major),
             clip(a_minor, g_major, a_minor, g_major, g_major, g_major),  # the estimator misreads the original
             clip(g_major, g_major, c_major, a_minor, a_minor, c_major)]
    assert summarise(clips, ["librosa"]) == {
        "clips": 3, "librosa": {"original": 2, "round_trip": 2, "continuation": 1, "continuation_holds": 2,
                                "distinct_continuation_keys": 3}}


def test_key_continuation_takes_one_validation_clip_per_key_and_prefers_those_that_open_their_piece():
    choose_clips = _pitch_demo_recipe("key_continuation").choose_clips
    rows = [{"clip_id": f"{key}-{start}-{split}", "key": key, "start_seconds": start, "split": split}
            for key in ("C major", "D minor") for start in (0.0, 10.0, 20.0) for split in ("train", "validation")]
    rows.append({"clip_id": "E major-10.0", "key": "E major", "start_seconds": 10.0, "split": "validation"})
    chosen = choose_clips(rows, seed=0)
    assert [row["clip_id"] for row in chosen] == ["C major-0.0-validation", "D minor-0.0-validation", "E major-10.0"]
    assert choose_clips(rows, seed=0) == chosen


def test_key_continuation_cuts_a_primer_of_whole_frames_after_the_leading_silence():
    cut = _pitch_demo_recipe("key_continuation")._cut
    audio = np.concatenate([np.zeros(500), np.ones(4000)]).astype(np.float32)  # 0.5 s of silence at 1 kHz
    primer, after = cut(audio, 1000, 30, prime_seconds=1.0, seconds=2.0, clip="c")
    assert len(primer) == 990 and primer.min() == 1.0  # 33 frames of 30 samples, all audible
    assert len(after) == 2000 and np.array_equal(after, audio[1490:3490])
    with pytest.raises(ValueError, match=r"--prime-seconds: clip c has 4.0 s of audio"):
        cut(audio, 1000, 30, prime_seconds=3.5, seconds=2.0, clip="c")


def test_key_steering_counts_exact_keys_and_distinct_keys_per_estimator():
    summarise = _pitch_demo_recipe("key_steering").summarise
    asked = [(0, "major"), (9, "minor"), (7, "major")]
    heard = {"librosa": [(0, "major"), (0, "major"), (7, "major")], "essentia": [(0, "major")] * 3}
    assert summarise(asked, heard) == {"librosa": {"exact": 2, "distinct_keys": 2},
                                       "essentia": {"exact": 1, "distinct_keys": 1}}


def test_key_steering_measures_how_the_codes_move():
    code_motion = _pitch_demo_recipe("key_steering").code_motion
    held, moving = np.array([5, 5, 5, 5, 9]), np.array([1, 2, 3, 4, 5])
    assert code_motion([held]) == {"repeated_frames": 0.75, "distinct_codes": 2.0}
    assert code_motion([held, moving]) == {"repeated_frames": 0.375, "distinct_codes": 3.5}


def test_tempo_steering_reads_settings_and_draws_prompts_that_state_key_and_tempo(tmp_path):
    recipe = _pitch_demo_recipe("tempo_steering")
    assert recipe.parse_setting("6:0.25:3") == {"tempo_strength": 6.0, "hold_share": 0.25, "key_strength": 3.0}
    with pytest.raises(argparse.ArgumentTypeError, match="TEMPO_STRENGTH:HOLD_SHARE:KEY_STRENGTH"):
        recipe.parse_setting("6:0.25")
    rows = [{"split": "validation", "key": "C major", "tempo_bpm": 80, "audio": "audio/a.flac", "caption": "a"},
            {"split": "validation", "key": None, "tempo_bpm": 80, "audio": "audio/b.flac", "caption": "b"},
            {"split": "train", "key": "D minor", "tempo_bpm": 90, "audio": "audio/c.flac", "caption": "c"}]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    drawn = recipe.manifest_prompts(str(manifest), "validation", 1, seed=0)
    assert [row["caption"] for row in drawn] == ["a"] and drawn[0]["audio"] == str(tmp_path / "audio" / "a.flac")
    with pytest.raises(ValueError, match="split 'validation' has 1 clips stating a key and a tempo; need 2"):
        recipe.manifest_prompts(str(manifest), "validation", 2, seed=0)
    assert recipe.totals([{"tempo_ours": True, "key_ours": False}, {"tempo_ours": True, "key_ours": True}]) == \
        {"tempo_ours": 2, "key_ours": 1}
