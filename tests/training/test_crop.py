"""Random windows of the training clips: where a window falls, and the training loop that uses it."""

import json

import pytest
import torch
from datasets import Dataset, DatasetDict
from safetensors.torch import save_file

from simba_music import SimbaMusicForCausalLM
from simba_music.training import SimbaMusicCollator
from simba_music.training.crop import RandomCrop, crop_frames
from simba_music.training.train import TrainArguments, train
from tests.conftest import tiny_config


def test_a_window_is_a_contiguous_slice_that_falls_anywhere_and_moves_with_the_epoch():
    rows = [torch.arange(100) + 1000 * i for i in range(200)]
    crop = RandomCrop(10, seed=1)
    windows = [crop(row) for row in rows]
    starts = []
    for row, window in zip(rows, windows, strict=True):
        start = int(window[0] - row[0])
        assert torch.equal(window, row[start:start + 10])
        starts.append(start)
    # Uniform over the 91 starts that fit: both ends are reached, and the mean is near the middle (45).
    assert min(starts) <= 2 and max(starts) >= 88 and 38 < sum(starts) / len(starts) < 52
    # Every start that fits is drawn, the last one included.
    assert {int(RandomCrop(4)(torch.arange(5) + 10 * i)[0]) - 10 * i for i in range(50)} == {0, 1}
    again = RandomCrop(10, seed=1)
    assert all(torch.equal(again(row), window) for row, window in zip(rows, windows, strict=True))
    crop.epoch = 1
    moved = sum(not torch.equal(crop(row), window) for row, window in zip(rows, windows, strict=True))
    assert moved > 180  # another epoch, another window (the same start by chance about once in 91)


def test_codebooks_share_the_window_and_short_rows_stay_whole():
    codes = torch.arange(3 * 50).reshape(3, 50)
    window = RandomCrop(8, seed=0)(codes)
    start = int(window[0, 0])
    assert window.shape == (3, 8) and torch.equal(window, codes[:, start:start + 8])
    short = torch.arange(6)
    assert torch.equal(RandomCrop(8)(short), short)
    with pytest.raises(ValueError, match="frames"):
        RandomCrop(0)


def test_seconds_become_frames_of_the_dataset_codec_or_are_refused(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"frame_rate": 50.0}))
    assert crop_frames(2.0, tmp_path) == 100 and crop_frames(0.001, tmp_path) == 1
    (tmp_path / "summary.json").write_text(json.dumps({"files": 3}))
    with pytest.raises(ValueError, match="--crop-seconds.*frame rate"):
        crop_frames(2.0, tmp_path)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="--crop-seconds"):
            TrainArguments(dataset="d", output_dir="o", config="c", crop_seconds=bad).check()


def test_collator_crops_before_the_start_token():
    collator = SimbaMusicCollator(64, caption_dropout=0.0, crop=RandomCrop(4, seed=0))
    batch = collator([{"codes": list(range(10))}, {"codes": list(range(20, 23))}])
    assert batch["input_ids"].shape == (2, 5)
    assert batch["input_ids"][0, 0] == 64 and batch["input_ids"][1].tolist() == [64, 20, 21, 22, 64]
    first = batch["input_ids"][0, 1:].tolist()
    assert first == list(range(first[0], first[0] + 4))


@pytest.fixture
def dataset_dir(tmp_path):
    """6 + 2 clips of 40 counting codes at a 10 Hz frame rate, cached text states."""
    generator = torch.Generator().manual_seed(0)
    rows = [{"codes": ((torch.arange(40) + offset) % 64).tolist(),
             "text_states": torch.randn(3, 24, generator=generator).tolist()}
            for offset in (0, 5, 10, 15, 20, 25, 2, 12)]
    data = tmp_path / "data"
    DatasetDict({"train": Dataset.from_list(rows[:6]), "validation": Dataset.from_list(rows[6:])}).save_to_disk(
        str(data))
    save_file({"empty_text_states": torch.zeros(1, 24)}, str(data / "empty_text_states.safetensors"))
    (data / "summary.json").write_text(json.dumps({"frame_rate": 10.0}))
    config = tiny_config().to_diff_dict()
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "model_type"}))
    return tmp_path


def test_training_sees_windows_and_validation_whole_clips(dataset_dir, monkeypatch):
    lengths = {"train": set(), "eval": set()}
    original = SimbaMusicForCausalLM.forward

    def recording_forward(self, *args, **kwargs):
        lengths["train" if self.training else "eval"].add(kwargs["input_ids"].shape[-1])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SimbaMusicForCausalLM, "forward", recording_forward)
    args = dict(dataset=str(dataset_dir / "data"), config=str(dataset_dir / "config.json"), max_steps=6, batch_size=2,
                warmup_steps=1, eval_every=3, save_every=3, crop_seconds=1.5, progress=False)
    first = train(TrainArguments(output_dir=str(dataset_dir / "a"), **args))
    assert lengths == {"train": {16}, "eval": {41}}  # 15 codes + the start token; validation: 40 + 1
    second = train(TrainArguments(output_dir=str(dataset_dir / "b"), **args))
    assert [r["loss"] for r in second["history"]] == [r["loss"] for r in first["history"]]
