"""Fresh captions every epoch: the choice of style and wording, and the training loop that uses it."""

import json

import pytest
import torch
from datasets import Dataset, DatasetDict

from simba_music import SimbaMusicForCausalLM
from simba_music.training.recaption import Recaptioner, parse_caption_styles
from simba_music.training.train import TrainArguments, train


def _row(index: int) -> dict:
    return {"clip_id": f"essen/tune{index}:p0:t96:c0", "instrument": ("violin", "flute", "harp")[index % 3],
            "tempo_bpm": 72 + 8 * index, "key": ("D minor", "G major")[index % 2], "meter": "3/4", "num_parts": 1,
            "genre": "folk song", "composer": "traditional", "segment_index": 0,
            "caption": f"stored caption {index}"}


def test_caption_styles_are_parsed_and_bad_ones_named():
    assert parse_caption_styles("templates, paraphrases") == ("templates", "paraphrases")
    for bad in ("template", "templates,templates", ""):
        with pytest.raises(ValueError, match="caption_styles"):
            parse_caption_styles(bad)
    with pytest.raises(ValueError, match="caption_styles"):
        TrainArguments(dataset="d", output_dir="o", config="c", caption_styles="prose").check()


def test_each_epoch_rewords_a_clip_in_both_styles_and_a_rerun_repeats_it():
    rows = [_row(i) for i in range(12)]
    recaptioner = Recaptioner(("templates", "paraphrases"), seed=3)
    by_epoch = []
    for epoch in range(5):
        recaptioner.epoch = epoch
        by_epoch.append([recaptioner(row) for row in rows])
    # Every clip is worded at least three ways over five epochs, and both styles occur (templates name the tempo in
    # BPM and the meter together; paraphrases rarely do).
    assert min(len({captions[i] for captions in by_epoch}) for i in range(12)) >= 3
    templates = sum("BPM" in caption and "3/4" in caption for captions in by_epoch for caption in captions)
    assert 0.25 < templates / 60 < 0.75
    again = Recaptioner(("templates", "paraphrases"), seed=3)
    again.epoch = 2
    assert [again(row) for row in rows] == by_epoch[2]
    assert not any("stored caption" in caption for captions in by_epoch for caption in captions)
    only = Recaptioner(("templates",))
    assert all("BPM" in only(row) for row in rows)
    # Numbers arrive as 0-d tensors from a torch-formatted dataset; the caption is the same.
    assert only({**rows[0], "tempo_bpm": torch.tensor(72)}) == only(rows[0])


def _metadata_dataset(root):
    rows = [{**_row(i), "codes": ((torch.arange(20) + 5 * i) % 64).tolist()} for i in range(8)]
    DatasetDict({"train": Dataset.from_list(rows[:6]), "validation": Dataset.from_list(rows[6:])}).save_to_disk(
        str(root / "data"))
    from simba_music.testing_utils import tiny_text_encoder, tiny_tokenizer
    from tests.conftest import tiny_config

    tiny_text_encoder("bert", hidden_size=24).save_pretrained(root / "text")
    tiny_tokenizer(kind="bert").save_pretrained(root / "text")
    config = tiny_config().to_diff_dict()
    (root / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "model_type"}))


def _args(root, name, **overrides):
    values = dict(dataset=str(root / "data"), output_dir=str(root / name), config=str(root / "config.json"),
                  text_encoder=str(root / "text"), caption_styles="templates,paraphrases", max_steps=9,
                  batch_size=2, warmup_steps=2, eval_every=3, save_every=3, progress=False)
    values.update(overrides)
    return TrainArguments(**values)


def test_training_rewords_train_rows_each_epoch_keeps_validation_and_resumes_exactly(tmp_path, monkeypatch):
    _metadata_dataset(tmp_path)
    seen = []
    original = Recaptioner.__call__

    def spy(self, row):
        caption = original(self, row)
        seen.append((self.epoch, row["clip_id"], caption))
        return caption

    monkeypatch.setattr(Recaptioner, "__call__", spy)
    reference = [r["loss"] for r in train(_args(tmp_path, "straight"))["history"]]
    # 9 steps of 2 rows over 6 training clips: three epochs, each clip re-captioned once in each.
    assert sorted({epoch for epoch, _, _ in seen}) == [0, 1, 2] and len(seen) == 18
    assert {clip for _, clip, _ in seen} == {_row(i)["clip_id"] for i in range(6)}  # never a validation clip
    wordings = {}
    for _, clip, caption in seen:
        wordings.setdefault(clip, set()).add(caption)
    assert sum(len(w) for w in wordings.values()) >= 14  # most clips read differently in different epochs

    calls = {"n": 0}
    forward = SimbaMusicForCausalLM.forward

    def crashing_forward(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5 + 2:  # step 5 of epoch 1, after the step-3 checkpoint and its evaluation
            raise KeyboardInterrupt
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(SimbaMusicForCausalLM, "forward", crashing_forward)
    with pytest.raises(KeyboardInterrupt):
        train(_args(tmp_path, "resumed"))
    monkeypatch.setattr(SimbaMusicForCausalLM, "forward", forward)
    resumed = train(_args(tmp_path, "resumed", resume=True))
    assert [r["loss"] for r in resumed["history"]] == reference


def test_recaptioning_refuses_cached_states_and_missing_metadata(tmp_path):
    _metadata_dataset(tmp_path)
    bare = Dataset.from_list([{"codes": list(range(20)), "caption": "x"}] * 4)
    DatasetDict({"train": bare}).save_to_disk(str(tmp_path / "bare"))
    with pytest.raises(ValueError, match=r"caption metadata \['clip_id', 'instrument'"):
        train(_args(tmp_path, "run", dataset=str(tmp_path / "bare")))
    cached = Dataset.from_list([{**_row(0), "codes": list(range(20)), "text_states": [[0.0] * 24]}] * 4)
    DatasetDict({"train": cached}).save_to_disk(str(tmp_path / "cached"))
    with pytest.raises(ValueError, match="caches text_states"):
        train(_args(tmp_path, "run2", dataset=str(tmp_path / "cached")))
    assert not (tmp_path / "run").exists() and not (tmp_path / "run2").exists()
