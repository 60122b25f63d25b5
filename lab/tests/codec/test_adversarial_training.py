"""The codec trainer's adversarial stage: gradients into the decoder, the logged losses, checkpoints that hold the
discriminator (and exports that do not), resuming with it, switching it on at a resume, and refusing bad settings."""

import json

import pytest
import torch
from safetensors.torch import load_file

from .conftest import tiny_train_config
from .test_wavtokenizer_training import TINY_WAVTOKENIZER

ADVERSARIAL = ("adversarial_loss", "feature_matching_loss", "discriminator_loss")


def _log(output_dir):
    return [json.loads(line) for line in (output_dir / "train_log.jsonl").read_text().splitlines()]


def test_the_generator_losses_reach_the_decoder_and_leave_the_discriminator_alone(synthetic_manifest, tmp_path):
    from accelerate import Accelerator

    from simba_music_lab.codec.adversarial import AdversarialStage
    from simba_music_lab.codec.data import CropSampler
    from simba_music_lab.codec.initialization import build_model
    from simba_music_lab.codec.train import CodecTrainingModule

    torch.set_num_threads(1)
    config = tiny_train_config(synthetic_manifest, tmp_path, adversarial_start_step=0, **TINY_WAVTOKENIZER)
    module = CodecTrainingModule(build_model(config), config)
    stage = AdversarialStage(config)
    stage.prepare(Accelerator(cpu=True))
    audio = CropSampler(str(synthetic_manifest), "train", 16000, 8000).batch(0, 2)
    reconstruction = module(audio, num_active=0, update_codebooks=False)["reconstruction"]
    losses = stage.generator_losses(audio, reconstruction)
    assert float(losses["adversarial_loss"].detach()) > 0 and float(losses["feature_matching_loss"].detach()) > 0
    stage.weighted(losses).backward()
    for part in (module.model.head, module.model.backbone):
        gradient = sum(float(p.grad.abs().sum()) for p in part.parameters() if p.grad is not None)
        assert gradient > 1e-6, part
    assert all(p.grad is None and p.requires_grad for p in stage.discriminator.parameters())  # frozen, then restored


@pytest.mark.slow
def test_an_adversarial_run_logs_its_losses_and_resumes_with_its_discriminator(synthetic_manifest, tmp_path):
    from transformers import WavTokenizerModel

    from simba_music_lab.codec.train import train_codec

    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    settings = dict(TINY_WAVTOKENIZER, adversarial_start_step=2)
    train_codec(tiny_train_config(synthetic_manifest, straight, **settings))
    log = _log(straight)
    assert [r["step"] for r in log] == [2, 4, 6, 8]
    assert not set(ADVERSARIAL) & set(log[0])  # steps 1-2 come before adversarial_start_step
    assert all(0 < r[name] < 10 for r in log[1:] for name in ADVERSARIAL)
    assert len({r["discriminator_loss"] for r in log[1:]}) == 3  # the discriminator trains: its loss moves

    first, last = straight / "checkpoints" / "step-4", straight / "checkpoints" / "step-8"
    assert json.loads((last / "trainer_state.json").read_text())["discriminator"] is True
    early, late = load_file(first / "model_1.safetensors"), load_file(last / "model_1.safetensors")
    assert early.keys() == late.keys() and all(k.startswith("discriminators.") for k in late)
    assert max(float((early[k] - late[k]).abs().max()) for k in late) > 1e-4  # trained between checkpoints
    assert (last / "optimizer_1.bin").is_file()

    exported = load_file(straight / "model" / "model.safetensors")
    assert not any("discriminator" in k for k in exported)  # the codec alone is exported
    model, info = WavTokenizerModel.from_pretrained(straight / "model", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]

    train_codec(tiny_train_config(synthetic_manifest, interrupted, **{**settings, "max_steps": 4}))
    resumed = train_codec(tiny_train_config(synthetic_manifest, interrupted, resume=True, **settings))
    assert resumed["step"] == 8
    # Same codec and same discriminator as the uninterrupted run: the trained discriminator was restored at step 4
    # (a fresh one would have steered the codec elsewhere).
    for name in ("model.safetensors", "model_1.safetensors"):
        a = load_file(last / name)
        b = load_file(interrupted / "checkpoints" / "step-8" / name)
        worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
        assert worst < 1e-4, (name, worst)


@pytest.mark.slow
def test_a_run_started_without_a_discriminator_resumes_with_one(synthetic_manifest, tmp_path):
    from simba_music_lab.codec.adversarial import AdversarialStage
    from simba_music_lab.codec.train import train_codec

    train_codec(tiny_train_config(synthetic_manifest, tmp_path, **{**TINY_WAVTOKENIZER, "max_steps": 4}))
    assert not (tmp_path / "checkpoints" / "step-4" / "model_1.safetensors").exists()
    state = train_codec(tiny_train_config(synthetic_manifest, tmp_path, resume=True, adversarial_start_step=4,
                                          **TINY_WAVTOKENIZER))
    assert state["step"] == 8 and state["discriminator"] is True
    assert state["resumes"] == [{"step": 4, "manifest": str(synthetic_manifest), "adversarial_start_step": 4,
                                "decay_start_step": None, "freeze_encoder": False}]
    log = _log(tmp_path)
    assert [r["step"] for r in log] == [2, 4, 6, 8]
    assert not any(set(ADVERSARIAL) & set(r) for r in log[:2])
    assert all(0 < r[name] < 10 for r in log[2:] for name in ADVERSARIAL)
    trained = load_file(tmp_path / "checkpoints" / "step-8" / "model_1.safetensors")
    fresh = AdversarialStage(tiny_train_config(synthetic_manifest, tmp_path, adversarial_start_step=4)).discriminator
    fresh = fresh.state_dict()
    assert trained.keys() == fresh.keys()
    assert max(float((trained[k] - fresh[k]).abs().max()) for k in trained) > 1e-4  # new at step 4, then trained
    # ... and that discriminator carries on at the next resume.
    state = train_codec(tiny_train_config(synthetic_manifest, tmp_path, resume=True, adversarial_start_step=4,
                                          **{**TINY_WAVTOKENIZER, "max_steps": 10}))
    assert state["step"] == 10 and "discriminator_loss" in _log(tmp_path)[-1]


@pytest.mark.parametrize("field, value, message", [
    ("adversarial_start_step", -1, "adversarial_start_step must be >= 0"),
    ("adversarial_weight", -0.5, "adversarial_weight must be a finite number >= 0"),
    ("feature_matching_weight", float("nan"), "feature_matching_weight must be a finite number >= 0"),
    ("discriminator_learning_rate", 0.0, "discriminator_learning_rate must be > 0"),
])
def test_bad_adversarial_settings_are_refused_before_any_work(synthetic_manifest, tmp_path, field, value, message):
    from simba_music_lab.codec.train import train_codec

    output_dir = tmp_path / "run"
    with pytest.raises(ValueError, match=message):
        train_codec(tiny_train_config(synthetic_manifest, output_dir, **{field: value}))
    assert not output_dir.exists()
