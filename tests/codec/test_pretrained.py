import pytest
import torch

from simba_music.codec.pretrained import pretrained_codec_path


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
