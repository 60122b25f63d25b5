"""The codec trainer's learning rate: warm-up, an optional cosine decay, and switching the decay on at a resume."""

import json
import math

import pytest

from .conftest import tiny_train_config
from .test_wavtokenizer_training import TINY_WAVTOKENIZER


def test_the_factor_warms_up_then_follows_a_cosine_to_its_floor(synthetic_manifest, tmp_path):
    from simba_music_lab.codec.train import learning_rate_factor

    config = tiny_train_config(synthetic_manifest, tmp_path, warmup_steps=4, decay_start_step=10, decay_steps=8,
                               final_learning_rate_fraction=0.2)
    assert [learning_rate_factor(step, config) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert learning_rate_factor(9, config) == 1.0
    assert learning_rate_factor(10, config) == 1.0
    assert learning_rate_factor(12, config) == pytest.approx(0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert learning_rate_factor(14, config) == pytest.approx(0.6)  # half way: the mean of 1 and the floor
    assert learning_rate_factor(18, config) == pytest.approx(0.2)
    assert learning_rate_factor(10_000, config) == pytest.approx(0.2)
    constant = tiny_train_config(synthetic_manifest, tmp_path, warmup_steps=4)
    assert learning_rate_factor(10_000, constant) == 1.0


def test_a_decay_switched_on_at_a_resume_lowers_the_logged_rate(synthetic_manifest, tmp_path):
    from simba_music_lab.codec.train import train_codec

    train_codec(tiny_train_config(synthetic_manifest, tmp_path, **{**TINY_WAVTOKENIZER, "max_steps": 4}))
    state = train_codec(tiny_train_config(synthetic_manifest, tmp_path, resume=True, decay_start_step=4, decay_steps=4,
                                          final_learning_rate_fraction=0.1, **TINY_WAVTOKENIZER))
    assert state["step"] == 8 and state["resumes"][-1]["decay_start_step"] == 4
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    rates = {record["step"]: record["learning_rate"] for record in log}
    # The logged rate is the next step's: warm-up over 4 steps to 1e-3, then half way down at step 6, the floor at 8.
    assert rates == pytest.approx({2: 0.75e-3, 4: 1e-3, 6: 0.55e-3, 8: 1e-4})


@pytest.mark.parametrize("field, value, message", [
    ("decay_start_step", -1, "decay_start_step must be >= 0"),
    ("decay_steps", 0, "decay_steps must be >= 1"),
    ("final_learning_rate_fraction", 1.5, r"final_learning_rate_fraction must be in \[0, 1\]"),
])
def test_bad_decay_settings_are_refused_before_any_work(synthetic_manifest, tmp_path, field, value, message):
    from simba_music_lab.codec.train import train_codec

    output_dir = tmp_path / "run"
    with pytest.raises(ValueError, match=message):
        train_codec(tiny_train_config(synthetic_manifest, output_dir, **{field: value}))
    assert not output_dir.exists()
