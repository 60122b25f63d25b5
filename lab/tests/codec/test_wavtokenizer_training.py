"""Training a one-codebook codec in WavTokenizer format with the shared codec trainer, and measuring its comb."""

import json

import numpy as np
import pytest
import torch

from simba_music_lab.codec.comb import comb_strength
from simba_music_lab.codec.transcription import transcription_unavailable_reason

from .conftest import SAMPLE_RATE, _melody, tiny_train_config

TINY_WAVTOKENIZER = dict(codec_format="wavtokenizer", decoder_hidden_size=32, decoder_intermediate_size=64,
                         decoder_num_layers=2, batch_size=2, max_steps=8, quantizer_warmup_steps=2, checkpoint_steps=4)


def _frame_rate_comb(audio: np.ndarray, gain: float) -> np.ndarray:
    """A feed-forward comb filter with one frame (20 ms) of delay: peaks at every multiple of 50 Hz, the colouring a
    codec gives when each decoded frame repeats part of the previous one."""
    combed = audio.copy()
    combed[SAMPLE_RATE // 50:] += gain * audio[: -(SAMPLE_RATE // 50)]
    return combed


def test_comb_strength_is_near_zero_for_music_and_noise_and_high_for_a_frame_rate_comb():
    music = _melody(np.random.default_rng(0), 4.0)
    noise = np.random.default_rng(0).standard_normal(4 * SAMPLE_RATE)
    assert abs(comb_strength(music, SAMPLE_RATE, 50.0)) < 0.3 and abs(comb_strength(noise, SAMPLE_RATE, 50.0)) < 0.2
    assert comb_strength(_frame_rate_comb(noise, 0.5), SAMPLE_RATE, 50.0) > 0.9
    assert comb_strength(_frame_rate_comb(music, 0.8), SAMPLE_RATE, 50.0) > 0.6
    assert abs(comb_strength(_frame_rate_comb(noise, 0.5), SAMPLE_RATE, 40.0)) < 0.3  # another rate: no comb
    with pytest.raises(ValueError, match="frame_rate and max_hz"):
        comb_strength(music, SAMPLE_RATE, 50.0, max_hz=9000.0)


def test_stft_loss_is_zero_only_for_identical_audio():
    from simba_music_lab.codec.losses import multiresolution_stft_loss

    audio = torch.from_numpy(_melody(np.random.default_rng(1), 1.0))[None, None]
    assert float(multiresolution_stft_loss(audio, audio)) == 0.0
    assert float(multiresolution_stft_loss(audio + 0.01 * torch.randn_like(audio), audio)) > 0.1


def test_wavtokenizer_format_needs_one_codebook(synthetic_manifest, tmp_path):
    config = tiny_train_config(synthetic_manifest, tmp_path, codec_format="wavtokenizer")
    assert config.num_codebooks == 1 and config.stft_weight == 1.0  # the format's defaults
    with pytest.raises(ValueError, match="num_codebooks must be 1 for codec_format='wavtokenizer'"):
        tiny_train_config(synthetic_manifest, tmp_path, codec_format="wavtokenizer", num_codebooks=2).check()
    with pytest.raises(ValueError, match="codec_format must be one of"):
        tiny_train_config(synthetic_manifest, tmp_path, codec_format="dac").check()


@pytest.fixture(scope="module")
def wavtokenizer_run(synthetic_manifest, tmp_path_factory):
    from simba_music_lab.codec.train import train_codec

    output_dir = tmp_path_factory.mktemp("wavtokenizer_run")
    state = train_codec(tiny_train_config(synthetic_manifest, output_dir, eval_note_f1=True, **TINY_WAVTOKENIZER))
    return output_dir, state


def test_training_writes_held_out_evaluations_and_a_stock_loadable_model(wavtokenizer_run):
    from transformers import WavTokenizerModel

    from simba_music_lab.codec.formats import codec_encoder, codec_quantizer, decode_latents

    output_dir, state = wavtokenizer_run
    log = [json.loads(line) for line in (output_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6, 8] and log[-1]["stft_loss"] > 0
    evaluations = [json.loads(line) for line in (output_dir / "eval_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evaluations] == [4, 8]
    assert {"mel_distance", "comb_strength", "comb_strength_original", "val_mel_first"} <= set(evaluations[-1])
    assert evaluations[-1]["mel_distance"] > 0
    if transcription_unavailable_reason() is None:
        assert 0 <= evaluations[-1]["note_f1"] <= 1 and evaluations[-1]["reference_notes"] > 0
    model = WavTokenizerModel.from_pretrained(output_dir / "model").eval()
    assert model.encoder_model.quantizer.codebook.inited.item() == 1
    # The trainer's melody measure is the report's, through the exported model.
    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music_lab.codec.melody import melody_pitch_kept
    from simba_music_lab.codec.report import reconstruct

    exported = AudioCodec(model, 1)
    melody = melody_pitch_kept(lambda a: reconstruct(exported, a), 16000, frame_rate=50.0)
    assert evaluations[-1]["melody_kept"] == melody["kept_within_50_cents"]
    assert evaluations[-1]["melody_missed_on_frame_grid"] == melody["missed_on_frame_grid"]
    audio = torch.from_numpy(_melody(np.random.default_rng(2), 1.0))[None, None]
    with torch.no_grad():
        codes = model.encode(audio).audio_codes
        assert codes.shape == (1, 1, 50) and codes.unique().numel() > 1  # k-means codebook: codes vary
        decoded = model.decode(codes).audio_values
        # The trainer's differentiable path decodes the codebook entries exactly as the stock model does.
        entries = codec_quantizer(model).layers[0].codebook.embed[codes[0, 0]].T[None]
        assert torch.allclose(decode_latents(model, entries), decoded, atol=1e-5)
        assert torch.equal(model.encoder_model.encoder(audio), codec_encoder(model)(audio))
    assert decoded.shape == (1, 1, 16000) and torch.isfinite(decoded).all()


def test_wavtokenizer_resume_matches_an_uninterrupted_run(synthetic_manifest, wavtokenizer_run, tmp_path):
    from safetensors.torch import load_file

    from simba_music_lab.codec.train import train_codec

    output_dir, _ = wavtokenizer_run
    train_codec(tiny_train_config(synthetic_manifest, tmp_path, **{**TINY_WAVTOKENIZER, "max_steps": 4}))
    resumed = train_codec(tiny_train_config(synthetic_manifest, tmp_path, resume=True, **TINY_WAVTOKENIZER))
    assert resumed["step"] == 8
    straight = load_file(output_dir / "model" / "model.safetensors")
    interrupted = load_file(tmp_path / "model" / "model.safetensors")
    assert straight.keys() == interrupted.keys()
    worst = max(float((straight[k].float() - interrupted[k].float()).abs().max()) for k in straight)
    assert worst < 1e-4, worst


def test_report_on_a_one_codebook_codec(synthetic_manifest, wavtokenizer_run, tmp_path, monkeypatch):
    import simba_music_lab.codec.report as report_module

    monkeypatch.setattr(report_module, "transcription_unavailable_reason", lambda: "skipped in this test")
    output_dir, _ = wavtokenizer_run
    report = report_module.codec_report(str(output_dir / "model"), str(synthetic_manifest), str(tmp_path), max_clips=1)
    assert report["codec_format"] == "wavtokenizer" and report["frame_rate"] == 50.0
    assert set(report["mean"]) == {"codec_first_codebook", "mu_law_8bit", "telephone_300_3400", "original"}
    assert report["kbps"]["codec_first_codebook"] == 0.3  # 50 frames/s x 6 bits
    assert -1 <= report["mean"]["codec_first_codebook"]["comb_strength"] <= 1
    assert "Comb strength:" in (tmp_path / "report.md").read_text()


def test_data_dependent_init_rescales_the_encoder_and_sets_the_output_level(synthetic_manifest, tmp_path):
    from simba_music_lab.codec.data import CropSampler
    from simba_music_lab.codec.formats import codec_encoder, decode_latents
    from simba_music_lab.codec.initialization import build_model, data_dependent_init

    model = build_model(tiny_train_config(synthetic_manifest, tmp_path, **TINY_WAVTOKENIZER))
    audio = CropSampler(str(synthetic_manifest), "train", SAMPLE_RATE, 8000).batch(0, 4)
    factors = data_dependent_init(model, audio)
    assert "encoder.0" in factors and "head.magnitude" in factors
    with torch.no_grad():
        latents = codec_encoder(model)(audio)
        assert abs(float(latents.std(dim=2).mean()) - 1) < 0.5  # frames vary over time at unit scale
        rms = decode_latents(model, latents).square().mean().sqrt()
    assert abs(float(rms / audio.square().mean().sqrt()) - 1) < 0.2
