import numpy as np
import pytest
import torch

from simba_music.audio import log_mel, mel_filterbank, mel_spectrogram, stft_magnitude


@pytest.mark.parametrize("rate,n_fft,n_mels,fmin", [(16000, 256, 32, 0.0), (16000, 1024, 64, 30.0),
                                                     (24000, 2048, 80, 0.0)])
def test_every_mel_filter_has_unit_area_and_peaks_at_its_centre(rate, n_fft, n_mels, fmin):
    filters = mel_filterbank(rate, n_fft, n_mels, fmin)
    assert filters.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(filters.sum(axis=1), 1.0, rtol=1e-12)
    peaks = np.argmax(filters, axis=1)
    assert (np.diff(peaks) >= 0).all()  # centres rise with the filter index
    with pytest.raises(ValueError, match="n_mels"):
        mel_filterbank(rate, 64, 40)


def test_stft_magnitude_finds_a_tone_in_its_bin():
    rate, n_fft = 16000, 1024
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(rate) / rate)
    magnitude = stft_magnitude(tone, n_fft, 256)
    assert magnitude.shape == (rate // 256 + 1, n_fft // 2 + 1)
    assert int(np.argmax(magnitude[10])) == round(1000.0 * n_fft / rate)
    assert magnitude[10].max() == pytest.approx(n_fft / 4, rel=0.01)  # Hann window: amplitude * n_fft / 4


def test_torch_mel_spectrogram_matches_the_numpy_filterbank_and_has_gradients():
    rate, n_fft, n_mels = 16000, 512, 40
    audio = torch.randn(1, 4000, dtype=torch.float64, requires_grad=True)
    mel = mel_spectrogram(audio, rate, n_fft, n_mels)
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spectrum = torch.stft(audio.detach(), n_fft, hop_length=n_fft // 4, window=window, center=True,
                          return_complex=True).abs().square()[0].numpy()
    reference = mel_filterbank(rate, n_fft, n_mels).astype(np.float32).astype(np.float64) @ spectrum
    np.testing.assert_allclose(mel[0].detach().numpy(), reference, rtol=1e-6, atol=1e-9)
    mel.sum().backward()
    assert audio.grad is not None and torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0


def test_log_mel_of_silence_is_the_floor():
    assert np.all(log_mel(np.zeros(4000), 16000, 16, 256, 64, floor=1e-6) == np.log(1e-6))
