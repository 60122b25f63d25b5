import pytest
import torch

from simba_music_lab.codec.pretrained import pretrained_codec_path


def test_shipped_codec_loads_in_float32_and_round_trips():
    from safetensors import safe_open
    from transformers import EncodecModel

    path = pretrained_codec_path()
    with safe_open(str(path / "model.safetensors"), "pt") as stored:
        # shipped at half size; safe_open handles are not iterable, hence .keys()
        assert {stored.get_tensor(key).dtype for key in stored.keys()} == {torch.float16}  # noqa: SIM118
    model = EncodecModel.from_pretrained(str(path)).eval()
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    rate = model.config.sampling_rate
    assert rate == 16000 and model.config.num_quantizers == 4
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(rate) / rate
    audio = 0.2 * torch.sin(2 * torch.pi * 440.0 * t) + 0.02 * torch.randn(rate, generator=generator)
    with torch.no_grad():
        encoded = model.encode(audio[None, None], bandwidth=2.0)
        codes = encoded.audio_codes
        decoded = model.decode(codes, encoded.audio_scales).audio_values
    assert codes.shape == (1, 1, 4, 50)
    assert int(codes.min()) >= 0 and int(codes.max()) < model.config.codebook_size
    assert codes[0, 0, 0].unique().numel() > 1 and codes.unique().numel() > 4
    assert decoded.shape[-1] == rate and torch.isfinite(decoded).all()


def test_unknown_shipped_codec_lists_what_is_there():
    with pytest.raises(FileNotFoundError, match="chorale-codec-16khz"):
        pretrained_codec_path("no-such-codec")


def test_shipped_wavtokenizer_codec_loads_in_float32_and_keeps_a_low_tone():
    from safetensors import safe_open
    from transformers import WavTokenizerModel

    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music_lab.codec.pretrained import WAVTOKENIZER_CODEC

    path = pretrained_codec_path(WAVTOKENIZER_CODEC)
    with safe_open(str(path / "model.safetensors"), "pt") as stored:
        assert {stored.get_tensor(key).dtype for key in stored.keys()} == {torch.float16}  # noqa: SIM118
    model = WavTokenizerModel.from_pretrained(str(path)).eval()
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    codec = AudioCodec(model, 1)
    assert (codec.sampling_rate, codec.frame_rate, codec.max_codebooks, codec.codebook_size) == (16000, 50, 1, 1024)
    rate = codec.sampling_rate
    t = torch.arange(rate) / rate
    tone = sum(0.1 / k * torch.sin(2 * torch.pi * k * 220.0 * t) for k in range(1, 5))  # A3 with 4 harmonics
    with torch.no_grad():
        codes = codec.encode(tone[None, None])
        decoded = codec.decode(codes)[0, 0]
    assert codes.shape == (1, 1, 50) and codes.unique().numel() > 1
    assert decoded.shape == (rate,) and torch.isfinite(decoded).all()
    middle = decoded[2000:14000]
    peak_hz = float(torch.fft.rfft(middle * torch.hann_window(middle.shape[0])).abs().argmax()) * rate / middle.shape[0]
    assert abs(peak_hz - 220.0) < 5.0  # measured 220.0 (it does not keep every pitch: see its model card)
    assert 0.5 < float(middle.square().mean().sqrt() / tone[2000:14000].square().mean().sqrt()) < 2.0
