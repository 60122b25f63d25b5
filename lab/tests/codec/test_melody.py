"""codec/melody.py: the synthetic melody and the pitch estimator that scores a codec on it. The estimator must
find every written pitch in the clean melody, miss every one when the melody is detuned by more than the tolerance,
and keep them through changes a codec makes that leave pitch alone (level, noise, a low-pass at 3 kHz)."""

import numpy as np
import pytest

from simba_music_lab.codec.melody import (
    HIGHEST_PITCH,
    LOWEST_PITCH,
    estimate_note_pitches,
    melody_pitch_kept,
    synthetic_melody,
)

RATE = 16000


def test_the_melody_is_seeded_in_range_and_moves():
    audio, pitches = synthetic_melody(RATE, seed=3)
    again, same = synthetic_melody(RATE, seed=3)
    assert np.array_equal(audio, again) and np.array_equal(pitches, same)
    assert not np.array_equal(pitches, synthetic_melody(RATE, seed=4)[1])
    assert audio.shape == (32 * 4000,) and audio.dtype == np.float32 and 0.05 < np.abs(audio).max() < 0.5
    assert pitches.min() >= LOWEST_PITCH and pitches.max() <= HIGHEST_PITCH
    assert np.count_nonzero(np.diff(pitches)) == 31 and len(set(pitches.tolist())) >= 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimator_finds_each_written_pitch(seed):
    audio, pitches = synthetic_melody(RATE, seed=seed)
    assert np.abs(estimate_note_pitches(audio, RATE, 32) - pitches).max() <= 0.05  # one 5-cent grid step


@pytest.mark.parametrize("detune, kept", [(30.0, 1.0), (-30.0, 1.0), (80.0, 0.0), (-80.0, 0.0), (1200.0, 0.0)])
def test_detuned_melodies_score_by_the_tolerance(detune, kept):
    detuned, _ = synthetic_melody(RATE, detune_cents=detune)
    result = melody_pitch_kept(lambda audio: detuned, RATE, seeds=(0,))
    assert result["kept_within_50_cents"] == kept
    assert abs(result["median_error_cents"] - abs(detune)) <= 5


def test_level_noise_and_a_low_pass_keep_the_pitch():
    rng = np.random.default_rng(0)

    def low_pass(audio):  # at 3 kHz: the top notes (G5, 784 Hz) lose their 4th harmonic
        return np.fft.irfft(np.fft.rfft(audio) * (np.fft.rfftfreq(audio.shape[0], 1 / RATE) < 3000), audio.shape[0])
    for change in (lambda a: 0.3 * a, lambda a: a + 0.01 * rng.standard_normal(a.shape[0]), low_pass):
        assert melody_pitch_kept(change, RATE)["kept_within_50_cents"] == 1.0


def test_the_seeds_notes_are_pooled():
    # A codec that keeps seed 0's melody and silences the others keeps a third of the pooled notes.
    first, _ = synthetic_melody(RATE, seed=0)
    result = melody_pitch_kept(lambda audio: audio if np.array_equal(audio, first) else np.zeros_like(audio), RATE,
                               seeds=(0, 1, 2))
    assert result["notes"] == 96 and result["seeds"] == [0, 1, 2]
    assert result["kept_within_50_cents"] == pytest.approx(1 / 3, abs=1e-4)
    with pytest.raises(ValueError, match="seeds"):
        melody_pitch_kept(lambda audio: audio, RATE, seeds=())


def test_silence_and_short_output_keep_nothing():
    assert melody_pitch_kept(lambda audio: np.zeros_like(audio), RATE)["kept_within_50_cents"] == 0.0
    assert melody_pitch_kept(lambda audio: audio[: audio.shape[0] // 2], RATE)["kept_within_50_cents"] <= 0.5
    with pytest.raises(ValueError, match="notes must be >= 1"):
        synthetic_melody(RATE, notes=0)


def _tones(frequencies, seconds: float = 0.25) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.concatenate([sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 5)) * 0.1 for f in frequencies])


def test_missed_notes_pulled_onto_the_frame_rate_grid_are_counted():
    from simba_music_lab.codec.melody import MELODY_SEEDS

    melodies = {synthetic_melody(RATE, seed=seed)[0].tobytes(): synthetic_melody(RATE, seed=seed)[1]
                for seed in MELODY_SEEDS}

    def onto_grid(audio):  # every note re-made at the nearest multiple of 50 Hz, as a phase-repeating decoder does
        written = 440.0 * 2 ** ((melodies[audio.tobytes()] - 69) / 12)
        return _tones(50 * np.round(written / 50))

    snapped = melody_pitch_kept(onto_grid, RATE, frame_rate=50.0)
    assert 0.2 < snapped["kept_within_50_cents"] < 0.9 and snapped["missed_on_frame_grid"] == 1.0
    detuned, _ = synthetic_melody(RATE, detune_cents=80.0)
    off = melody_pitch_kept(lambda audio: detuned, RATE, seeds=(0,), frame_rate=50.0)
    assert off["kept_within_50_cents"] == 0.0 and off["missed_on_frame_grid"] < 0.3  # misses, but not onto the grid
    assert melody_pitch_kept(lambda audio: audio, RATE, frame_rate=50.0)["missed_on_frame_grid"] is None
    assert "missed_on_frame_grid" not in melody_pitch_kept(lambda audio: audio, RATE, seeds=(0,))
    with pytest.raises(ValueError, match="frame_rate"):
        melody_pitch_kept(lambda audio: audio, RATE, frame_rate=5.0)
