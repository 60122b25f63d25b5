import numpy as np
import pytest
import torch

from simba_music.testing_utils import tiny_codec, tiny_wavtokenizer
from simba_music_lab.evaluation.distance import codec_latent_embedding, frechet_distance
from simba_music_lab.evaluation.features import mel_statistics

from .conftest import tone


def test_identical_sets_have_zero_distance():
    samples = np.random.default_rng(0).normal(size=(40, 128))
    assert frechet_distance(samples, samples) == pytest.approx(0.0, abs=1e-6)


def test_distance_of_a_mean_shift_is_its_squared_norm_and_grows():
    samples = np.random.default_rng(1).normal(size=(30, 16))
    distances = [frechet_distance(samples, samples + shift) for shift in (0.5, 1.0, 2.0)]
    assert distances == pytest.approx([16 * 0.25, 16 * 1.0, 16 * 4.0], rel=1e-6)
    assert distances[0] < distances[1] < distances[2]


def test_distance_sees_a_change_of_spread_and_is_symmetric():
    rng = np.random.default_rng(2)
    narrow, wide = rng.normal(size=(200, 4)), 3.0 * rng.normal(size=(200, 4))
    assert frechet_distance(narrow, wide) > 4 * 1.5  # about 4 * (3 - 1)^2 = 16
    assert frechet_distance(narrow, wide) == pytest.approx(frechet_distance(wide, narrow), rel=1e-6)


def test_distance_refuses_mismatched_sets():
    with pytest.raises(ValueError, match="equal width"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_mel_statistics_separate_timbres():
    low = [mel_statistics(tone([220.0 * (1 + 0.01 * i)], 1.0)) for i in range(4)]
    high = [mel_statistics(tone([1760.0 * (1 + 0.01 * i)], 1.0)) for i in range(4)]
    assert low[0].shape == (128,)
    assert frechet_distance(np.stack(low), np.stack(high)) > 10 * frechet_distance(np.stack(low[:2]), np.stack(low[2:]))


@pytest.mark.parametrize("make_codec", [tiny_codec, tiny_wavtokenizer])
def test_codec_latent_embedding_is_the_encoders_time_average_for_each_codec_format(make_codec):
    # Every codec the adapter supports: the latent before quantization, averaged over time, at the codec's rate.
    codec = make_codec(sampling_rate=8000)
    audio = tone([330.0], seconds=1.0, rate=8000)
    embedding = codec_latent_embedding(codec, audio, 8000)
    encoder = codec.encoder_model.encoder if codec.config.model_type == "wavtokenizer" else codec.encoder
    with torch.no_grad():
        expected = encoder(torch.as_tensor(audio, dtype=torch.float32)[None, None])[0].mean(dim=-1).numpy()
    assert embedding.shape == (codec.config.hidden_size,)
    np.testing.assert_allclose(embedding, expected, rtol=1e-5, atol=1e-6)


def test_the_pitch_codecs_latent_is_its_log_stft_analysis():
    """`evaluate` of a model on the pitch codec: its latent is the analysis its codebooks quantize, whose spectrum
    follows the tone (a tone an octave up moves the embedding's peak bin up by about twice the frequency)."""
    from transformers import AutoModel

    from simba_music.shipped import shipped_path

    codec = AutoModel.from_pretrained(shipped_path("pitch-codec-16khz")).eval()
    peaks = []
    for frequency in (220.0, 440.0):
        embedding = codec_latent_embedding(codec, tone([frequency], seconds=1.0, rate=16000), 16000)
        assert embedding.shape == (codec.config.analysis_n_fft // 2 + 1,)
        peaks.append(int(np.argmax(embedding)) * 16000 / codec.config.analysis_n_fft)
    assert abs(peaks[0] - 220.0) < 10 and abs(peaks[1] - 440.0) < 10
