import numpy as np
import pytest
import torch

from simba_music.audio import conform, resample


def test_resampling_keeps_a_tone_and_the_type_it_was_given():
    rate = 16000
    tone = np.sin(2 * np.pi * 440.0 * np.arange(rate) / rate)
    up = resample(tone, rate, 24000)
    assert isinstance(up, np.ndarray) and up.dtype == np.float64 and up.shape == (24000,)
    expected = np.sin(2 * np.pi * 440.0 * np.arange(24000) / 24000)
    assert np.abs(up - expected)[1000:-1000].max() < 1e-3  # edges see the filter's zero padding
    as_tensor = resample(torch.from_numpy(tone[None]), rate, 24000)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.dtype == torch.float32 and as_tensor.shape == (1, 24000)
    np.testing.assert_allclose(as_tensor[0].numpy(), up, atol=1e-6)


def test_conform_downmixes_either_layout_and_refuses_non_finite_audio():
    stereo = np.stack([np.full(800, 0.2), np.full(800, 0.6)])
    np.testing.assert_allclose(conform(stereo, 8000, 8000), 0.4)
    np.testing.assert_allclose(conform(stereo.T, 8000, 8000), 0.4)
    assert conform(stereo, 8000, 16000).shape == (1600,)
    with pytest.raises(ValueError, match="NaN or infinite"):
        conform(np.array([0.0, np.nan]), 8000, 8000)
