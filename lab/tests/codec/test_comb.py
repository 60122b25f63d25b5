"""The comb ratio (`codec/comb.py`) on signals of known answer."""

import numpy as np
import pytest

from simba_music_lab.codec.comb import comb_ratio

from .test_key_round_trip import RATE, cadence, harmonic_tone


def test_comb_ratio_on_signals_of_known_answer():
    pulse = np.zeros(5 * RATE)
    pulse[::RATE // 50] = 0.7
    assert comb_ratio(pulse, RATE, 50.0) > 1e6  # every tooth full, every midpoint empty
    assert comb_ratio(harmonic_tone(100.0, 5.0, partials=30), RATE, 50.0) > 1e3  # partials on every other tooth
    noise = np.random.default_rng(0).standard_normal(5 * RATE)
    assert 0.8 < comb_ratio(noise, RATE, 50.0) < 1.25
    assert 0.5 < comb_ratio(cadence(2, "major"), RATE, 50.0) < 2.0  # tuned to A440: no reason to favour 50 Hz
    with pytest.raises(ValueError, match="audio: need at least one second"):
        comb_ratio(noise[:100], RATE, 50.0)
