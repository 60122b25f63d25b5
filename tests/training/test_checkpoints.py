"""The one checkpoint module of decoder and codec training: naming, ordering, pruning, atomicity, legacy names."""

import json

import pytest

from simba_music.training.checkpoints import (
    checkpoint_dirs,
    latest_checkpoint,
    load_trainer_state,
    save_checkpoint,
    write_trainer_state,
)


class FakeAccelerator:
    """What save_checkpoint needs from Accelerate: one main process that writes a state file."""

    is_main_process = True

    def __init__(self, fail: bool = False):
        self.fail = fail

    def wait_for_everyone(self):
        pass

    def save_state(self, folder):
        if self.fail:
            raise OSError("disk full")
        from pathlib import Path

        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "model.safetensors").write_bytes(b"weights")


def test_checkpoints_are_ordered_by_step_not_by_name_and_pruned_to_keep(tmp_path):
    for step in (2, 10, 30):
        save_checkpoint(FakeAccelerator(), tmp_path, step, write_trainer_state({"step": step}), keep=2)
    assert [path.name for path in checkpoint_dirs(tmp_path)] == ["step-10", "step-30"]
    assert load_trainer_state(latest_checkpoint(tmp_path)) == {"step": 30}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["step-10", "step-30"]  # no temporary left


def test_a_failed_save_leaves_no_checkpoint_behind(tmp_path):
    save_checkpoint(FakeAccelerator(), tmp_path, 1, write_trainer_state({"step": 1}), keep=0)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(FakeAccelerator(fail=True), tmp_path, 2, write_trainer_state({"step": 2}), keep=0)
    assert latest_checkpoint(tmp_path).name == "step-1"


def test_codec_checkpoints_of_earlier_versions_are_still_found(tmp_path):
    legacy = tmp_path / "step_00000500"
    legacy.mkdir()
    (legacy / "trainer_state.json").write_text(json.dumps({"step": 500}))
    (tmp_path / "step-40").mkdir()
    (tmp_path / ".tmp-step-900").mkdir()  # an interrupted save is never a checkpoint
    (tmp_path / "step-x").mkdir()
    assert [path.name for path in checkpoint_dirs(tmp_path)] == ["step-40", "step_00000500"]
    assert load_trainer_state(latest_checkpoint(tmp_path))["step"] == 500
    assert latest_checkpoint(tmp_path / "absent") is None
