import pytest
import torch
from transformers import DacConfig, DacModel

from simba_music.codecs import AudioCodec
from simba_music.demo_text_to_music import tiny_codec


def tiny_dac():
    torch.manual_seed(0)
    config = DacConfig(encoder_hidden_size=8, downsampling_ratios=[2, 4], decoder_hidden_size=16, n_codebooks=3,
                       codebook_size=64, codebook_dim=4, hidden_size=16, sampling_rate=8000, upsampling_ratios=[4, 2])
    return DacModel(config).eval()


def test_encodec_adapter_rates_and_round_trip_shapes():
    codec = AudioCodec(tiny_codec(), num_codebooks=2)
    assert (codec.sampling_rate, codec.hop_length, codec.frame_rate, codec.channels) == (8000, 640, 12.5, 1)
    assert codec.codebook_size == 64 and codec.max_codebooks == 12
    waveform = 0.1 * torch.randn(2, 1, 6400)
    codes = codec.encode(waveform)
    assert codes.shape == (2, 2, 10) and codes.dtype == torch.long
    assert len(codes.unique()) > 5  # randomized codebooks: codes vary
    assert codec.decode(codes).shape == (2, 1, 6400)


def test_dac_adapter_exact_frame_rate_and_shapes():
    codec = AudioCodec(tiny_dac(), num_codebooks=2)
    assert codec.frame_rate == 1000.0 and codec.channels == 1 and codec.max_codebooks == 3
    codes = codec.encode(0.1 * torch.randn(2, 1, 800))
    assert codes.shape == (2, 2, 100)
    assert codec.decode(codes).shape == (2, 1, 800)


def test_adapter_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"num_codebooks: must be in \[1, 3\]"):
        AudioCodec(tiny_dac(), num_codebooks=4)
    codec = AudioCodec(tiny_codec())
    with pytest.raises(ValueError, match="waveform: expected shape"):
        codec.encode(torch.zeros(1, 2, 640))
    with pytest.raises(ValueError, match=r"codes: values must be in \[0, 64\)"):
        codec.decode(torch.full((1, 1, 3), 64))
