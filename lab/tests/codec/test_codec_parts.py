import argparse

import pytest
import torch

from simba_music.audio import mel_filterbank
from simba_music_lab.codec.config import small_encodec_config
from simba_music_lab.codec.losses import multiscale_mel_loss, si_sdr
from simba_music_lab.codec.quantizer import kmeans, kmeans_init_quantizer, quantize_for_training


def test_config_bandwidths_select_one_to_all_codebooks():
    from transformers import EncodecModel

    config = small_encodec_config(sample_rate=16000, num_codebooks=4, codebook_size=1024, num_filters=4)
    assert config.frame_rate == 50 and config.num_quantizers == 4
    model = EncodecModel(config)
    counts = [model.quantizer.get_num_quantizers_for_bandwidth(b) for b in config.target_bandwidths]
    assert counts == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="codebook_size"):
        small_encodec_config(codebook_size=1000)
    with pytest.raises(ValueError, match="sample_rate"):
        small_encodec_config(sample_rate=16001)


def test_kmeans_finds_separated_clusters():
    generator = torch.Generator().manual_seed(0)
    true_centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = true_centers.repeat_interleave(50, 0) + 0.1 * torch.randn(150, 2, generator=generator)
    found = kmeans(points, 3, iterations=10, generator=generator)
    distances = torch.cdist(true_centers, found).min(dim=1).values
    assert distances.max() < 0.2
    with pytest.raises(ValueError, match="num_clusters"):
        kmeans(points[:2], 3)


def _quantizer(codebook_size=16, dim=8, codebooks=3):
    from transformers import EncodecModel

    config = small_encodec_config(num_codebooks=codebooks, codebook_size=codebook_size, hidden_size=dim, num_filters=2)
    return EncodecModel(config).quantizer


def test_rvq_codes_vary_and_residual_codebooks_reduce_error():
    quantizer = _quantizer()
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(4, 8, 50, generator=generator)
    kmeans_init_quantizer(quantizer, latents, frames_per_step=200, generator=generator)
    errors = []
    for active in (1, 2, 3):
        out = quantize_for_training(quantizer, latents, active, update_codebooks=False)
        assert out["codes"].shape == (4, active, 50)
        errors.append(float((out["quantized"] - latents).square().mean()))
    assert out["codes"][:, 0].unique().numel() >= 12  # of 16 codes
    assert errors[0] > errors[1] > errors[2]
    # The stock inference path gives the same codes as the training path.
    stock = quantizer.encode(latents, bandwidth=None)
    assert torch.equal(stock.transpose(0, 1), out["codes"])


def test_straight_through_passes_gradients_and_commitment_pulls_latents():
    quantizer = _quantizer()
    latents = torch.randn(2, 8, 30, generator=torch.Generator().manual_seed(1))
    kmeans_init_quantizer(quantizer, latents, frames_per_step=60)
    latents = (latents + 0.3).requires_grad_(True)
    out = quantize_for_training(quantizer, latents, 2, update_codebooks=False)
    (out["quantized"].sum() + out["commitment_loss"]).backward()
    assert latents.grad is not None and latents.grad.abs().sum() > 0
    assert out["commitment_loss"] > 0


def test_ema_moves_codes_towards_data_and_dead_codes_restart():
    quantizer = _quantizer(codebook_size=8, codebooks=1)
    codebook = quantizer.layers[0].codebook
    codebook.embed.copy_(torch.randn(8, 8) + 100.0)  # far from all data: every code but one goes unused
    codebook.embed_avg.copy_(codebook.embed)
    codebook.cluster_size.fill_(1.0)
    latents = torch.randn(2, 8, 40, generator=torch.Generator().manual_seed(2))
    before = float((codebook.embed - latents.mean(dim=(0, 2))).norm(dim=1).min())
    restarts = 0
    for _ in range(5):
        restarts += quantize_for_training(quantizer, latents, 1, update_codebooks=True, decay=0.5)["dead_restarts"]
    after = float((codebook.embed - latents.mean(dim=(0, 2))).norm(dim=1).min())
    assert restarts >= 6
    assert after < before / 10
    codes = quantize_for_training(quantizer, latents, 1, update_codebooks=False)["codes"]
    assert codes.unique().numel() >= 4


def test_num_active_is_checked():
    with pytest.raises(ValueError, match="num_active"):
        quantize_for_training(_quantizer(), torch.zeros(1, 8, 4), 4, update_codebooks=False)


def test_mel_loss_is_zero_only_for_identical_audio():
    generator = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(2, 1, 8000, generator=generator)
    assert float(multiscale_mel_loss(audio, audio, 16000)) == 0.0
    assert float(multiscale_mel_loss(audio * 0.5, audio, 16000)) > 0.1
    assert (mel_filterbank(16000, 256, 32).sum(axis=1) > 0).all()
    with pytest.raises(ValueError, match="shapes"):
        multiscale_mel_loss(audio, audio[..., :100], 16000)


def test_si_sdr_rewards_scaled_copies_and_punishes_noise():
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(3, 16000, generator=generator)
    assert (si_sdr(0.5 * audio, audio) > 60).all()
    noisy = audio + torch.randn(3, 16000, generator=generator)
    assert (si_sdr(noisy, audio).sub(0.0).abs() < 0.5).all()  # equal power noise: 0 dB


def test_cli_registers_codec_commands():
    from simba_music_lab.codec.cli import add_subcommands

    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["codec", "train", "m.jsonl", "run", "--max-steps", "5", "--resume", "--threads", "1"])
    assert args.max_steps == 5 and args.resume and args.threads == 1 and callable(args.func)
    from simba_music_cli.parsing import dataclass_from_arguments
    from simba_music_lab.codec.train import CodecTrainConfig

    args = parser.parse_args(["codec", "train", "m.jsonl", "run", "--upsampling-ratios", "8", "5", "4", "4",
                              "--no-progress"])
    assert dataclass_from_arguments(CodecTrainConfig, args) == CodecTrainConfig(
        manifest="m.jsonl", output_dir="run", upsampling_ratios=(8, 5, 4, 4), progress=False)
    args = parser.parse_args(["codec", "report", "run/model", "m.jsonl", "out"])
    assert callable(args.func)


def test_quantizer_dropout_shares():
    from simba_music_lab.codec.train import choose_num_active

    draws = [choose_num_active(torch.Generator().manual_seed(i), 4, dropout=0.5, first_only=0.2) for i in range(4000)]
    shares = {n: draws.count(n) / len(draws) for n in (1, 2, 3, 4)}
    assert abs(shares[1] - 0.3) < 0.03  # 0.2 + 0.8 * 0.5 / 4
    assert abs(shares[4] - 0.5) < 0.03  # 0.8 * 0.5 + 0.8 * 0.5 / 4
    assert abs(shares[2] - 0.1) < 0.02
