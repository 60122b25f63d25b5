import numpy as np
import pytest

from simba_music.audio import chroma, is_silent, normalize_loudness, rms


def test_chroma_puts_an_a_in_pitch_class_9():
    rate = 16000
    a4 = np.sin(2 * np.pi * 440.0 * np.arange(rate) / rate)
    profile = chroma(a4, rate).sum(axis=0)
    assert profile.shape == (12,) and int(np.argmax(profile)) == 9
    assert profile[9] / profile.sum() > 0.9


def test_loudness_normalisation_reaches_the_target_and_respects_the_peak_limit():
    quiet = 0.01 * np.sin(np.linspace(0, 200 * np.pi, 16000)).astype(np.float32)
    assert 20 * np.log10(rms(normalize_loudness(quiet, target_rms_db=-20.0))) == pytest.approx(-20.0, abs=0.01)
    spike = np.zeros(16000, np.float32)
    spike[100] = 1.0
    assert np.abs(normalize_loudness(spike)).max() == pytest.approx(0.95)
    silence = np.zeros(100, np.float32)
    assert normalize_loudness(silence) is silence and is_silent(silence) and not is_silent(quiet * 10)
