import numpy as np
import pytest

from simba_music_lab.codec.note_metrics import match_notes, note_f1

MELODY = [(0.0, 0.5, 60), (0.5, 1.0, 62), (1.0, 1.5, 64), (1.5, 2.5, 65)]


def shifted(notes, seconds=0.0, pitch=0):
    return [(onset + seconds, offset + seconds, midi + pitch) for onset, offset, midi in notes]


def test_identical_notes_score_one():
    result = note_f1(MELODY, MELODY)
    assert result == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "matched": 4, "reference_notes": 4,
                      "estimated_notes": 4}  # fmt: skip


def test_onsets_within_50_ms_match_and_later_ones_do_not():
    assert note_f1(MELODY, shifted(MELODY, 0.030))["f1"] == 1.0
    assert note_f1(MELODY, shifted(MELODY, -0.030))["f1"] == 1.0
    assert note_f1(MELODY, shifted(MELODY, 0.050))["f1"] == 1.0  # the tolerance is inclusive
    assert note_f1(MELODY, shifted(MELODY, 0.080))["f1"] == 0.0
    assert note_f1(MELODY, shifted(MELODY, 0.030), onset_tolerance=0.02)["f1"] == 0.0


def test_wrong_pitch_does_not_match_and_offsets_are_ignored():
    assert note_f1(MELODY, shifted(MELODY, pitch=1))["f1"] == 0.0
    assert note_f1(MELODY, shifted(MELODY, pitch=12))["f1"] == 0.0  # an octave error is an error
    longer = [(onset, offset + 3.0, midi) for onset, offset, midi in MELODY]
    assert note_f1(MELODY, longer)["f1"] == 1.0


def test_partial_agreement_counts():
    estimate = MELODY[:3] + [(1.5, 2.5, 66), (3.0, 3.5, 70)]  # 3 right, 1 wrong pitch, 1 extra
    result = note_f1(MELODY, estimate)
    assert result["matched"] == 3
    assert result["precision"] == pytest.approx(3 / 5)
    assert result["recall"] == pytest.approx(3 / 4)
    assert result["f1"] == pytest.approx(2 * 3 / (4 + 5))


def test_matching_is_one_to_one_and_maximal():
    # Two estimates near one reference note: only one may match it.
    assert note_f1([(1.0, 1.2, 60)], [(0.99, 1.2, 60), (1.01, 1.2, 60)])["matched"] == 1
    # A greedy nearest-first match would pair reference 1 with the estimate at 1.03 and leave reference 0 unmatched;
    # the maximum matching pairs both.
    reference = [(0.99, 1.5, 60), (1.06, 1.5, 60)]
    estimate = [(1.03, 1.5, 60), (1.10, 1.5, 60)]
    assert sorted(match_notes(reference, estimate)) == [(0, 0), (1, 1)]
    assert note_f1(reference, estimate)["f1"] == 1.0


def test_empty_cases():
    assert note_f1([], [])["f1"] == 1.0  # nothing played, nothing heard: full agreement
    assert note_f1(MELODY, [])["f1"] == 0.0 and note_f1(MELODY, [])["recall"] == 0.0
    assert note_f1([], MELODY)["f1"] == 0.0 and note_f1([], MELODY)["precision"] == 0.0
    assert note_f1(np.zeros((0, 3)), np.zeros((0, 3)))["matched"] == 0
    with pytest.raises(ValueError, match="notes must be"):
        note_f1([1.0, 2.0], MELODY)
