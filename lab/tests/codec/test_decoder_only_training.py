"""Decoder-only training (`freeze_encoder`): the encoder and the codebook do not move, so every clip keeps its codes,
while the decoder trains on; and it is refused where there are no trained codes to keep."""

import pytest
import torch
from safetensors.torch import load_file

from .conftest import tiny_train_config
from .test_wavtokenizer_training import TINY_WAVTOKENIZER


def _codes(model_dir, audio):
    from transformers import WavTokenizerModel

    model = WavTokenizerModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        return model.encode(audio).audio_codes


def test_a_decoder_only_resume_keeps_every_code_and_trains_the_decoder(synthetic_manifest, tmp_path):
    from simba_music_lab.codec.data import CropSampler
    from simba_music_lab.codec.train import train_codec

    run = tmp_path / "run"
    train_codec(tiny_train_config(synthetic_manifest, run, **TINY_WAVTOKENIZER))
    before = load_file(run / "checkpoints" / "step-8" / "model.safetensors")
    audio = CropSampler(str(synthetic_manifest), "validation", 16000, 16000).fixed_batch(2)
    codes_before = _codes(run / "model", audio)

    state = train_codec(tiny_train_config(synthetic_manifest, run, resume=True, freeze_encoder=True,
                                          **{**TINY_WAVTOKENIZER, "max_steps": 16, "adversarial_start_step": 12}))
    after = load_file(run / "checkpoints" / "step-16" / "model.safetensors")
    encoder = [k for k in before if k.startswith("model.encoder_model.")]
    decoder = [k for k in before if k.startswith(("model.backbone.", "model.head."))]
    assert encoder and decoder and len(encoder) + len(decoder) == len(before)
    assert all(torch.equal(before[k], after[k]) for k in encoder)  # codebook buffers included
    assert sum(float((before[k] - after[k]).abs().max()) > 1e-6 for k in decoder) > len(decoder) // 2
    assert torch.equal(_codes(run / "model", audio), codes_before)
    assert state["resumes"][-1]["freeze_encoder"] is True and state["step"] == 16


def test_decoder_only_training_needs_a_trained_codec(synthetic_manifest, tmp_path):
    from simba_music_lab.codec.train import train_codec

    with pytest.raises(ValueError, match="freeze_encoder: only for a resumed run"):
        train_codec(tiny_train_config(synthetic_manifest, tmp_path / "fresh", freeze_encoder=True,
                                      **TINY_WAVTOKENIZER))
    with pytest.raises(ValueError, match="freeze_encoder: .* has no checkpoint with trained codebooks"):
        train_codec(tiny_train_config(synthetic_manifest, tmp_path / "empty", freeze_encoder=True, resume=True,
                                      **TINY_WAVTOKENIZER))
    assert not (tmp_path / "fresh").exists() and not (tmp_path / "empty").exists()  # nothing written
