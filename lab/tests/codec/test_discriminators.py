"""The codec's discriminators and GAN losses: shapes, gradients, loss values, and the direction of a discriminator
step."""

import numpy as np
import pytest
import torch

from simba_music_lab.codec.discriminators import (
    PERIODS,
    CodecDiscriminator,
    PeriodDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from simba_music_lab.codec.losses import STFT_RESOLUTIONS

from .conftest import _melody, tiny_train_config


def test_one_verdict_per_sub_discriminator_with_its_feature_maps():
    discriminator = CodecDiscriminator()
    assert 50_000 < sum(p.numel() for p in discriminator.parameters()) < 500_000  # small enough for a CPU
    verdicts = discriminator(0.1 * torch.randn(2, 1, 8000))
    assert len(verdicts) == len(PERIODS) + len(STFT_RESOLUTIONS)
    for logits, features in verdicts:
        assert logits.dim() == 2 and logits.shape[0] == 2 and logits.shape[1] > 10
        assert len(features) == 5 and all(f.shape[0] == 2 and torch.isfinite(f).all() for f in features)
        assert torch.equal(features[-1].flatten(1), logits)  # the last map is the logits themselves
    # 8000 samples fold into whole rows of 8000 / period (padded up): 5 -> 1600 rows, 7 -> 1143 rows
    assert verdicts[PERIODS.index(5)][1][0].shape[-2:] == (534, 5)  # after the first stride-3 conv: ceil(1600 / 3)
    assert verdicts[PERIODS.index(7)][1][0].shape[-1] == 7
    with pytest.raises(ValueError, match="audio must be"):
        discriminator(torch.randn(2, 8000))
    with pytest.raises(ValueError, match="period must be >= 2"):
        PeriodDiscriminator(1)


def test_every_sub_discriminator_is_differentiable_in_its_input_and_weights():
    discriminator = CodecDiscriminator()
    audio = (0.1 * torch.randn(1, 1, 2049)).requires_grad_()  # not a multiple of any period: reflect padding
    for index, sub in enumerate(discriminator.discriminators):
        audio.grad = None
        discriminator.zero_grad()
        logits, features = sub(audio)
        (logits.square().mean() + sum(f.abs().mean() for f in features)).backward()
        assert float(audio.grad.abs().sum()) > 0, index
        weights = [p.grad for p in sub.parameters()]
        assert all(g is not None and float(g.abs().sum()) > 0 for g in weights), index


def _verdicts(logit_values, maps):
    return [(torch.full((2, 3), float(v)), [m]) for v, m in zip(logit_values, maps, strict=True)]


def test_least_squares_and_feature_matching_losses_have_the_textbook_values():
    zeros, ones = torch.zeros(2, 4), torch.ones(2, 4)
    real, generated = _verdicts([1.0, 1.0], [ones, ones]), _verdicts([0.0, 0.0], [zeros, zeros])
    assert float(discriminator_loss(real, generated)) == 0.0  # a perfect discriminator
    assert float(discriminator_loss(generated, real)) == 2.0  # the reverse: (1 - 0)^2 + 1^2
    assert float(generator_adversarial_loss(generated)) == 1.0 and float(generator_adversarial_loss(real)) == 0.0
    assert float(generator_adversarial_loss(_verdicts([0.5, 1.0], [zeros, zeros]))) == pytest.approx(0.125)
    assert float(feature_matching_loss(real, real)) == 0.0
    assert float(feature_matching_loss(real, _verdicts([0, 0], [zeros, 3 * ones]))) == pytest.approx(1.5)
    target = ones.clone().requires_grad_()
    moved = (0.5 * ones).requires_grad_()
    feature_matching_loss([(zeros, [target])], [(zeros, [moved])]).backward()
    assert target.grad is None and float(moved.grad.sum()) < 0  # the real side is a fixed target


def _mean_score(stage, audio: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.cat([logits for logits, _ in stage.plain(audio)], dim=1).mean())


def test_discriminator_steps_score_real_audio_above_generated_audio(synthetic_manifest, tmp_path):
    """Least squares pulls real verdicts to 1 and generated ones to 0: a flipped sign would widen the gap the other
    way. Noise stands in for a bad codec's output (learning a codec's subtle comb takes far longer than a test)."""
    from accelerate import Accelerator

    from simba_music_lab.codec.adversarial import AdversarialStage

    torch.set_num_threads(1)
    config = tiny_train_config(synthetic_manifest, tmp_path, adversarial_start_step=0,
                               discriminator_learning_rate=2e-3)
    stage = AdversarialStage(config)
    stage.prepare(Accelerator(cpu=True))
    real = torch.from_numpy(np.stack([_melody(np.random.default_rng(seed), 0.25) for seed in range(4)]))[:, None]
    generated = 0.1 * torch.randn(real.shape, generator=torch.Generator().manual_seed(0))
    gap_before = _mean_score(stage, real) - _mean_score(stage, generated)
    losses = [float(stage.discriminator_step(real, generated)) for _ in range(4)]
    gap_after = _mean_score(stage, real) - _mean_score(stage, generated)
    assert gap_after > gap_before + 0.2, (gap_before, gap_after)
    assert losses[-1] < 0.9 * losses[0], losses
