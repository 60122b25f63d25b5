"""A causal EnCodec decoded frame by frame with carried state equals its one-shot decode (`encodec_stream.py`)."""

import pytest
import torch
from transformers import EncodecConfig, EncodecModel

import simba_music
from simba_music.modeling.audio_codec import AudioCodec
from simba_music.modeling.encodec_stream import EncodecStreamDecoder, first_frames_needed
from simba_music.testing_utils import randomize_codebooks, tiny_codec, tiny_random_codec

pytestmark = pytest.mark.usefixtures("one_thread")


def causal_codec(seed=0, **overrides) -> AudioCodec:
    """A tiny causal EnCodec; `overrides` vary the layers the stream carries state through."""
    torch.manual_seed(seed)
    settings = dict(sampling_rate=8000, audio_channels=1, num_filters=4, upsampling_ratios=[4, 4, 5],
                    codebook_size=64, target_bandwidths=[1.2], hidden_size=16, codebook_dim=16,
                    use_causal_conv=True, normalize=False)
    settings.update(overrides)
    model = randomize_codebooks(EncodecModel(EncodecConfig(**settings)).eval(), seed)
    return AudioCodec(model, num_codebooks=2)


def stream_decode(codec: AudioCodec, codes: torch.Tensor, pieces: list[int], chunk_frames: int = 1) -> torch.Tensor:
    decoder = codec.incremental_decoder(chunk_frames)
    parts, start = [], 0
    for size in pieces:
        parts.append(decoder.push(codes[..., start:start + size]))
        start += size
    assert start == codes.shape[-1]
    return torch.cat(parts + [decoder.finish()], dim=-1)


def relative_error(streamed: torch.Tensor, full: torch.Tensor) -> float:
    assert streamed.shape == full.shape
    return float((streamed - full).abs().max() / full.abs().max())


@pytest.mark.parametrize("overrides", [
    dict(),
    dict(num_residual_layers=2, dilation_growth_rate=3, num_lstm_layers=2, residual_kernel_size=5),
    dict(kernel_size=9, last_kernel_size=3, use_conv_shortcut=False, audio_channels=2),
])
@pytest.mark.parametrize("chunk_frames", [1, 4])
def test_stream_equals_the_one_shot_decode(overrides, chunk_frames):
    codec = causal_codec(**overrides)
    generator = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 64, (2, 2, 61), generator=generator)
    full = codec.decode(codes)
    pieces = [1] * 9 + [3, 7, 1, 12, 2] + [1] * 27
    assert relative_error(stream_decode(codec, codes, pieces, chunk_frames), full) < 1e-5


def test_every_layers_state_matters():
    """Teeth: a stream that forgets any one kind of carried state fails the parity test above (1e-5) by 10x or
    more (the random LSTM's state matters least)."""
    codec = causal_codec(num_lstm_layers=2)
    codes = torch.randint(0, 64, (1, 2, 40), generator=torch.Generator().manual_seed(2))
    full = codec.decode(codes)
    for forgotten in ("EncodecConv1d", "EncodecConvTranspose1d", "EncodecLSTM"):
        decoder = codec.incremental_decoder(10)
        stream = decoder.stream
        original_layer = stream._layer

        def forgetful_layer(layer, hidden, original_layer=original_layer, stream=stream, forgotten=forgotten):
            if type(layer).__name__ == forgotten:
                stream.states.pop(id(layer), None)
            return original_layer(layer, hidden)

        stream._layer = forgetful_layer
        streamed = torch.cat([decoder.push(codes[..., i:i + 10]) for i in range(0, 40, 10)] + [decoder.finish()], -1)
        assert relative_error(streamed, full) > 1e-4, forgotten


def test_a_stream_shorter_than_the_first_chunk_is_decoded_at_finish():
    codec = causal_codec()
    needed = first_frames_needed(codec.model.decoder)
    assert needed >= 2  # the latent-rate convolutions (kernel 7) reflect 6 frames
    codes = torch.randint(0, 64, (1, 2, needed - 1), generator=torch.Generator().manual_seed(3))
    decoder = codec.incremental_decoder(1)
    assert all(decoder.push(codes[..., i:i + 1]).shape[-1] == 0 for i in range(needed - 1))
    assert torch.allclose(decoder.finish(), codec.decode(codes), atol=1e-6)


def test_non_causal_codecs_have_no_stream_decoder():
    assert AudioCodec(tiny_codec()).incremental_decoder() is None  # looks ahead: decoded in overlapping windows
    with pytest.raises(ValueError, match="model: only a causal EnCodec"):
        EncodecStreamDecoder(tiny_codec())
    with pytest.raises(ValueError, match="chunk_frames: must be >= 1"):
        EncodecStreamDecoder(tiny_random_codec(), chunk_frames=0)


def test_codes_are_checked_before_anything_is_kept():
    decoder = causal_codec().incremental_decoder(1)
    with pytest.raises(ValueError, match=r"codes: values must be in \[0, 64\)"):
        decoder.push(torch.full((1, 2, 3), 64))
    with pytest.raises(ValueError, match="codes: nothing was pushed"):
        decoder.finish()


def test_the_demo_codec_streams_exactly():
    """The shipped demo's codec is causal: a 1 s chunked stream equals its one-shot decode (where overlapping
    windows needed 5 s of context for 5e-5 and left 0.17 with 1 s)."""
    from transformers import AutoModelForTextToWaveform

    model = AutoModelForTextToWaveform.from_pretrained(simba_music.demo_model_path()).eval()
    codes = torch.randint(0, 1024, (1, 1, 300), generator=torch.Generator().manual_seed(4))
    full = model.codec.decode(codes)
    assert relative_error(stream_decode(model.codec, codes, [1] * 300, chunk_frames=50), full) < 1e-5
