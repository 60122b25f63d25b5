"""The clip's code histogram under the first prediction: values by hand, what is not a code, and the loop's use."""

import math

import pytest
import torch

from simba_music.training.clip_codes import clip_codes_loss
from simba_music.training.train import TrainArguments, train
from tests.training.test_crop import dataset_dir  # noqa: F401  (fixture)


def test_the_loss_is_the_histogram_cross_entropy_of_the_first_prediction():
    logits = torch.zeros(2, 4, 5)  # [B, T, V]; V - 1 = 4 is the special id
    logits[1, 0] = torch.tensor([0.0, math.log(3.0), 0.0, 0.0, 0.0])  # row 1: code 1 three times as likely
    logits[0, 1:] = 50.0  # later positions are not read
    labels = torch.tensor([[4, 1, 1, 2], [4, 1, 3, -100]])
    # Row 0: uniform over 5 -> log 5 for every code. Row 1: p(1) = 3/7, p(3) = 1/7, codes 1 and 3 once each.
    expected = (math.log(5) + 0.5 * (-math.log(3 / 7) - math.log(1 / 7))) / 2
    assert clip_codes_loss(logits, labels, 4).item() == pytest.approx(expected, rel=1e-6)
    # The special id is not a code; a row without codes is left out; [B, K, T, V] averages over codebooks too.
    assert clip_codes_loss(logits, torch.tensor([[4, 1, 1, 2], [4, 4, -100, -100]]), 4).item() == pytest.approx(
        math.log(5), rel=1e-6)
    stacked = clip_codes_loss(logits[None].transpose(0, 1).expand(2, 2, 4, 5), labels[:, None].expand(2, 2, 4), 4)
    assert stacked.item() == pytest.approx(expected, rel=1e-6)


def test_gradient_moves_the_first_prediction_towards_the_clip_codes():
    logits = torch.zeros(1, 3, 4, requires_grad=True)
    clip_codes_loss(logits, torch.tensor([[3, 2, 2]]), 3).backward()
    assert logits.grad[0, 0, 2] < 0 < logits.grad[0, 0, 0] and logits.grad[0, 1:].abs().sum() == 0


def test_training_adds_it_to_the_loss(dataset_dir):  # noqa: F811
    args = dict(dataset=str(dataset_dir / "data"), config=str(dataset_dir / "config.json"), max_steps=2, batch_size=2,
                warmup_steps=1, eval_every=2, save_every=2, progress=False)
    plain = train(TrainArguments(output_dir=str(dataset_dir / "plain"), **args))["history"]
    weighted = train(TrainArguments(output_dir=str(dataset_dir / "weighted"), clip_codes_weight=0.5, **args))["history"]
    # The first step sees the same model and batch: the difference is half the histogram loss, about log(64) / 2
    # for an untrained model over 64 codes.
    assert 1.5 < weighted[0]["loss"] - plain[0]["loss"] < 2.6
    with pytest.raises(ValueError, match="--clip-codes-weight"):
        TrainArguments(dataset="d", output_dir="o", config="c", clip_codes_weight=-1.0).check()
