"""The independent estimators (librosa; essentia where installed) on clips of known key and tempo, and how their
per-clip verdicts are counted."""

import numpy as np

from simba_music_lab.evaluation.independent import (
    independent_adherence,
    independent_estimates,
    summarise_independent,
)

from .conftest import RATE, click_track, progression

# I-IV-V-I in C major, each chord one beat at 120 BPM, four times over (8 s).
C_MAJOR = [[48, 60, 64, 67], [53, 60, 65, 69], [55, 59, 62, 67], [48, 60, 64, 67]]


def test_each_estimator_hears_a_cadence_in_c_major_at_120_bpm():
    audio = np.concatenate([progression(C_MAJOR, seconds_per_chord=0.5)] * 4)
    audio = 0.5 * audio + 0.5 * click_track(120, seconds=len(audio) / RATE)
    estimates = independent_estimates(audio, RATE)
    assert "librosa" in estimates["key"] and "librosa" in estimates["tempo_bpm"]
    verdicts = independent_adherence(estimates, {"key": "C major", "tempo_bpm": 120})
    assert all(verdicts["key_exact"].values()), estimates
    assert all(verdicts["tempo_correct"].values()), estimates
    wrong = independent_adherence(estimates, {"key": "F# major", "tempo_bpm": 90})
    assert not any(wrong["key_exact"].values()) and not any(wrong["tempo_correct"].values())


def test_verdicts_are_counted_over_the_clips_that_state_each_thing():
    rows = [{"independent": {"key": {"librosa": "C major"}, "tempo_bpm": {"librosa": 120.0}},
             "independent_adherence": {"key_exact": {"librosa": True}, "tempo_correct": {"librosa": False}}},
            {"independent": {"key": {"librosa": "D minor"}, "tempo_bpm": {"librosa": 80.0}},
             "independent_adherence": {"key_exact": {"librosa": None}, "tempo_correct": {"librosa": True}}},
            {"independent": {"key": {"librosa": "C major"}, "tempo_bpm": {"librosa": 60.0}},
             "independent_adherence": {"key_exact": {"librosa": False}, "tempo_correct": {"librosa": True}}}]
    summary = summarise_independent(rows)
    assert summary["key_exact_accuracy"] == {"librosa": 0.5}  # the clip that states no key is not counted
    assert summary["tempo_accuracy"] == {"librosa": 2 / 3}
    assert summary["distinct_keys_heard"] == {"librosa": 2}
    assert independent_adherence(None, {"key": "C major"}) == {"key_exact": {}, "tempo_correct": {}}
