"""Converting tiny original-format checkpoints built from the layout files in tests/fixtures (facts about the
original model's state dict: key names and shapes)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simba_music import SimbaMusicForCausalLM
from simba_music.conversion.convert import convert_checkpoint
from simba_music.conversion.reference import original_forward

FORMATS = Path(__file__).resolve().parents[1] / "fixtures"
SCRIPT = Path(__file__).resolve().parents[2] / "conversion_scripts" / "convert_ssm_ttm_checkpoint.py"


def _variants():
    prefix = json.loads((FORMATS / "ssm_ttm_prefix_simba_layout.json").read_text())
    others = json.loads((FORMATS / "ssm_ttm_other_variants_layout.json").read_text())
    variants = {"prefix_simba": (prefix["tiny_config_used_for_keys"], prefix["state_dict"])}
    for name, entry in others.items():
        variants[name.split(" ")[0]] = (entry["kwargs"], entry["state_dict"])
    return variants


VARIANTS = _variants()


def _checkpoint(tmp_path, name, extra=None, drop=None, reshape=None):
    model_config, shapes = VARIANTS[name]
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in shapes.items():
        tensor = torch.randn(shape, generator=generator) * 0.2
        if key.endswith("A_log"):
            tensor = torch.log(torch.rand(shape, generator=generator) * 3 + 0.5)
        if key.endswith("norm.weight"):
            tensor = 1 + tensor
        state[key] = tensor
    for key in drop or []:
        state.pop(key)
    for key, shape in (reshape or {}).items():
        state[key] = torch.zeros(shape)
    state.update(extra or {})
    config = {"training": {"name": "tiny"}, "model": model_config}
    path = tmp_path / f"{name}.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {"config": config}, "epoch": 3,
                "pytorch-lightning_version": "2.4.0"}, path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return path, state, model_config


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_converts_loads_and_matches_the_original_forward(tmp_path, name):
    path, state, model_config = _checkpoint(tmp_path, name)
    report = convert_checkpoint(str(path), str(tmp_path / "config.json"), str(tmp_path / "out"), decoder_only=True)
    assert report["max_logit_difference"] < 1e-4
    model, info = SimbaMusicForCausalLM.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    assert model.config.use_text_mask is False and model.config.ssm_ttm["min_text_tokens"] == 60

    # Independently of the script's own check: logits against the reference forward, both in float64, so that the
    # comparison does not depend on float32 summation order (thread count, kernel tiling).
    generator = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 1024, (2, 11), generator=generator)
    condition = torch.randn(2, 5, 768, generator=generator)
    with torch.no_grad():
        ours = model.double().eval()(codes, encoder_hidden_states=condition.double()).logits
    reference = original_forward({k[len("music_model."):]: v for k, v in state.items()}, model_config, codes, condition)
    if model.config.conditioning == "prefix":
        reference = reference[:, 1:]
    torch.testing.assert_close(ours.double(), reference, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_cli_reports_and_writes(tmp_path):
    path, _, _ = _checkpoint(tmp_path, "prefix_simba")
    result = subprocess.run([sys.executable, str(SCRIPT), "--checkpoint", str(path), "--config",
                             str(tmp_path / "config.json"), "--output", str(tmp_path / "cli"), "--decoder-only"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["max_logit_difference"] < 1e-4
    assert (tmp_path / "cli" / "model.safetensors").exists()
    assert "weights_only=True" in subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                                                 text=True).stdout


@pytest.mark.parametrize("corruption,message", [
    (dict(drop=["music_model.backbone.1.ff.norm.weight"]), "missing keys"),
    (dict(reshape={"music_model.backbone.0.mamba.mamba.in_proj.weight": (12, 64)}), "wrong shapes"),
    (dict(extra={"music_model.backbone.0.extra.weight": torch.zeros(2)}), "unexpected keys"),
])
def test_corrupted_checkpoints_are_refused_and_nothing_is_written(tmp_path, corruption, message):
    path, _, _ = _checkpoint(tmp_path, "prefix_simba", **corruption)
    with pytest.raises(ValueError, match=message):
        convert_checkpoint(str(path), str(tmp_path / "config.json"), str(tmp_path / "out"), decoder_only=True)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


class Payload:
    def __reduce__(self):
        return (Path.touch, (Path(MARKER),))


MARKER = ""


def test_a_pickled_payload_is_refused_and_never_runs(tmp_path):
    global MARKER
    MARKER = str(tmp_path / "pwned")
    path, state, _ = _checkpoint(tmp_path, "prefix_simba")
    torch.save({"state_dict": state, "hyper_parameters": {"config": {}}, "callbacks": Payload()}, path)
    with pytest.raises(ValueError, match="weights-only"):
        convert_checkpoint(str(path), str(tmp_path / "config.json"), str(tmp_path / "out"), decoder_only=True)
    assert not Path(MARKER).exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_full_text_to_music_model_with_t5_weights_from_the_checkpoint(tmp_path):
    from transformers import AutoModelForTextToWaveform, T5Config, T5EncoderModel

    from simba_music.testing_utils import tiny_random_codec, tiny_tokenizer

    t5 = T5EncoderModel(T5Config(vocab_size=64, d_model=768, d_kv=8, d_ff=32, num_layers=1, num_heads=2)).eval()
    (tmp_path / "t5").mkdir()
    t5.config.save_pretrained(tmp_path / "t5")
    tiny_tokenizer(kind="t5").save_pretrained(tmp_path / "t5")
    tiny_random_codec().save_pretrained(tmp_path / "codec")
    text_state = {f"text_encoder.{k}": v.clone() for k, v in t5.state_dict().items()}
    path, _, _ = _checkpoint(tmp_path, "prefix_simba", extra=text_state)
    convert_checkpoint(str(path), str(tmp_path / "config.json"), str(tmp_path / "full"),
                       text_encoder=str(tmp_path / "t5"), codec=str(tmp_path / "codec"))
    model = AutoModelForTextToWaveform.from_pretrained(tmp_path / "full")
    torch.testing.assert_close(model.text_encoder.shared.weight, t5.shared.weight)
    assert model.config.text_max_length == 60 and model.config.decoder.use_text_mask is False
    from simba_music import SimbaMusicProcessor
    processor = SimbaMusicProcessor.from_pretrained(tmp_path / "full")
    ids = processor(text=["calm piano"])["input_ids"]
    assert ids.shape == (1, 60) and int(ids[0, -1]) == 1  # padded with id 1, as the original inference
