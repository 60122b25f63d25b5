"""The Accelerate training loop: learning, exact resume, multi-process launch, and the collator."""

import json
import subprocess
import sys

import pytest
import torch
from datasets import Dataset, DatasetDict
from safetensors.torch import save_file

from simba_music import SimbaMusicForCausalLM
from simba_music.training import SimbaMusicCollator
from simba_music.training.train import TrainArguments, train, warmup_cosine
from tests.conftest import tiny_config


@pytest.fixture
def dataset_dir(tmp_path):
    """8 clips of counting sequences (code t+1 follows code t), with cached random text states."""
    generator = torch.Generator().manual_seed(0)
    # Train offsets 0, 5, ..., 25; validation offsets 2 and 12 reuse the same codes in unseen clips.
    rows = [{"codes": ((torch.arange(20) + offset) % 64).tolist(), "caption": f"clip {offset}",
             "text_states": torch.randn(3 + offset % 2, 24, generator=generator).tolist()}
            for offset in (0, 5, 10, 15, 20, 25, 2, 12)]
    DatasetDict({"train": Dataset.from_list(rows[:6]), "validation": Dataset.from_list(rows[6:])}).save_to_disk(
        str(tmp_path / "data"))
    save_file({"empty_text_states": torch.zeros(1, 24)}, str(tmp_path / "data" / "empty_text_states.safetensors"))
    config = tiny_config().to_diff_dict()
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "model_type"}))
    return tmp_path


def _args(root, name, **overrides):
    values = dict(dataset=str(root / "data"), output_dir=str(root / name), config=str(root / "config.json"),
                  max_steps=12, batch_size=2, learning_rate=3e-3, warmup_steps=2, eval_every=4, save_every=4,
                  progress=False)
    values.update(overrides)
    return TrainArguments(**values)


def test_training_learns_and_writes_everything(dataset_dir):
    summary = train(_args(dataset_dir, "run", max_steps=40, learning_rate=1e-2, label_smoothing=0.0))
    losses = [r["loss"] for r in summary["history"]]
    assert len(losses) == 40 and sum(losses[-4:]) / 4 < 0.6 * losses[0]
    assert summary["history"][-1]["eval_loss"] < summary["history"][3]["eval_loss"]
    out = dataset_dir / "run"
    assert (out / "training_curve.png").stat().st_size > 1000
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 40
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-36", "step-40"]  # keeps the last 2
    assert isinstance(SimbaMusicForCausalLM.from_pretrained(out / "model"), SimbaMusicForCausalLM)


def test_interrupted_and_resumed_run_reproduces_the_losses(dataset_dir, monkeypatch):
    reference = [r["loss"] for r in train(_args(dataset_dir, "straight", gradient_accumulation_steps=2))["history"]]

    calls = {"n": 0}
    original = SimbaMusicForCausalLM.forward

    def crashing_forward(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2 * 6 + 3:  # mid-way through step 7 (2 micro-batches a step, plus eval passes)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SimbaMusicForCausalLM, "forward", crashing_forward)
    with pytest.raises(KeyboardInterrupt):
        train(_args(dataset_dir, "resumed", gradient_accumulation_steps=2))
    monkeypatch.setattr(SimbaMusicForCausalLM, "forward", original)
    assert (dataset_dir / "resumed" / "checkpoints" / "step-4").is_dir()
    resumed = train(_args(dataset_dir, "resumed", gradient_accumulation_steps=2, resume=True))
    assert [r["loss"] for r in resumed["history"]] == reference
    # metrics.jsonl holds each step once: the steps after the crashed run's checkpoint are not repeated.
    logged = [json.loads(line) for line in (dataset_dir / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == list(range(1, len(reference) + 1))
    assert [r["loss"] for r in logged] == reference
    assert all(later["train_seconds"] >= earlier["train_seconds"] > 0
               for earlier, later in zip(logged, logged[1:], strict=False))


def test_warmup_then_cosine_to_the_floor():
    assert warmup_cosine(0, 10, 100, 0.01) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100, 0.01) == pytest.approx(1.0)
    assert warmup_cosine(100, 10, 100, 0.01) == pytest.approx(0.01)


def test_bad_arguments_are_refused(dataset_dir):
    with pytest.raises(ValueError, match="batch_size"):
        train(_args(dataset_dir, "bad", batch_size=0))
    with pytest.raises(FileNotFoundError, match="dataset"):
        train(_args(dataset_dir, "bad", dataset=str(dataset_dir / "missing")))


def test_collator_pads_with_the_special_id_and_drops_captions():
    collator = SimbaMusicCollator(64, caption_dropout=0.5, empty_text_states=torch.zeros(1, 4), seed=0)
    rows = [{"codes": [1, 2, 3], "text_states": torch.ones(2, 4)}, {"codes": [4], "text_states": torch.ones(3, 4)}]
    batch = collator(rows * 8)
    assert batch["input_ids"][1].tolist() == [64, 4, 64, 64]
    assert batch["labels"][1].tolist() == [64, 4, -100, -100]
    dropped = batch["encoder_attention_mask"].sum(-1) == 1
    assert 0 < int(dropped.sum()) < 16  # some rows, not all, got the empty caption
    assert torch.equal(batch["encoder_hidden_states"][dropped][:, 0], torch.zeros(int(dropped.sum()), 4))


def test_caption_dropout_is_one_rule_for_the_collator_and_the_training_loop():
    from simba_music.training.collator import caption_drop_mask, drop_captions

    generator = torch.Generator().manual_seed(0)
    drop = caption_drop_mask(4000, 0.1, generator)
    assert abs(float(drop.float().mean()) - 0.1) < 0.02
    assert not caption_drop_mask(8, 0.0, generator).any() and caption_drop_mask(8, 1.0, generator).all()
    hidden, mask = torch.ones(3, 2, 4), torch.ones(3, 2, dtype=torch.long)
    empty = torch.full((3, 4), 7.0)  # longer than the batch's captions: the text axis grows, nothing is cut
    new_hidden, new_mask = drop_captions(hidden, mask, torch.tensor([False, True, False]), empty)
    assert new_hidden.shape == (3, 3, 4) and new_mask.tolist() == [[1, 1, 0], [1, 1, 1], [1, 1, 0]]
    assert torch.equal(new_hidden[1], empty) and torch.equal(new_hidden[0, :2], hidden[0])
    same = drop_captions(hidden, mask, torch.zeros(3, dtype=torch.bool), empty)
    assert same[0] is hidden and same[1] is mask


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_accelerate_launch_two_cpu_processes(dataset_dir):
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "-m", "simba_music.cli", "train", "--dataset", str(dataset_dir / "data"),
               "--output-dir", str(dataset_dir / "ddp"), "--config", str(dataset_dir / "config.json"),
               "--max-steps", "3", "--batch-size", "1", "--save-every", "3", "--eval-every", "3", "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=280,
                            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 3
    assert (dataset_dir / "ddp" / "model" / "model.safetensors").exists()


def test_push_to_hub_uploads_the_trained_model(dataset_dir, fake_api):
    train(_args(dataset_dir, "pushed", max_steps=2, save_every=2, push_to_hub="tiny-simba-decoder"))
    (commit,) = fake_api.commits
    assert commit["repo_id"] == "someone/tiny-simba-decoder"
    assert {"config.json", "model.safetensors"} <= set(commit["files"])


class _Payload:
    marker = None

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_resume_never_unpickles_code(dataset_dir):
    train(_args(dataset_dir, "safe", max_steps=2, save_every=2))
    checkpoint = dataset_dir / "safe" / "checkpoints" / "step-2"
    assert not list(checkpoint.glob("custom_checkpoint_*"))  # our state is JSON + safetensors
    _Payload.marker = str(dataset_dir / "pwned")
    for pickled in checkpoint.glob("random_states_*.pkl"):
        torch.save({"random_state": _Payload()}, pickled)
    # Accelerate reads RNG states with weights_only=True: the payload is refused (Accelerate then warns and keeps
    # the current RNG state), and it never runs.
    summary = train(_args(dataset_dir, "safe", max_steps=4, save_every=2, resume=True, change_settings=True))
    assert summary["steps"] == 4
    assert not (dataset_dir / "pwned").exists()


def test_checkpoint_killed_midway_keeps_the_previous_checkpoint(dataset_dir, monkeypatch):
    from accelerate import Accelerator

    train(_args(dataset_dir, "run", max_steps=2, save_every=2))
    checkpoints = dataset_dir / "run" / "checkpoints"
    files = sorted(p.name for p in (checkpoints / "step-2").iterdir())
    original = Accelerator.save_state

    def dies_midway(self, output_dir=None, **kwargs):
        original(self, output_dir, **kwargs)
        raise RuntimeError("killed")

    monkeypatch.setattr(Accelerator, "save_state", dies_midway)
    with pytest.raises(RuntimeError, match="killed"):
        train(_args(dataset_dir, "run", max_steps=4, save_every=2, resume=True, change_settings=True))
    assert sorted(p.name for p in (checkpoints / "step-2").iterdir()) == files
    assert sorted(p.name for p in checkpoints.iterdir() if not p.name.startswith(".")) == ["step-2"]
    monkeypatch.setattr(Accelerator, "save_state", original)
    assert train(_args(dataset_dir, "run", max_steps=4, save_every=2, resume=True, change_settings=True))["steps"] == 4
