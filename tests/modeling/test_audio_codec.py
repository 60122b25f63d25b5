import pytest
import torch
from transformers import DacConfig, DacModel, EncodecConfig, EncodecModel

from simba_music import (
    CallbackAudioStreamer,
    SimbaMusicConfig,
    SimbaMusicForCausalLM,
    SimbaMusicForConditionalGeneration,
    SimbaMusicProcessor,
)
from simba_music.modeling.audio_codec import AudioCodec
from simba_music.testing_utils import (
    randomize_codebooks,
    tiny_codec,
    tiny_text_encoder,
    tiny_text_to_music,
    tiny_tokenizer,
    tiny_wavtokenizer,
)

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


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


def composite(codec, num_codebooks=1):
    decoder = SimbaMusicForCausalLM(SimbaMusicConfig(
        hidden_size=32, num_hidden_layers=1, state_size=8, head_dim=16, chunk_size=8, text_hidden_size=16,
        vocab_size=65, special_token_id=64, num_codebooks=num_codebooks))
    return SimbaMusicForConditionalGeneration(text_encoder=tiny_text_encoder(), audio_encoder=codec, decoder=decoder)


def test_dac_composite_generates_and_continues_with_two_codebooks():
    model = composite(tiny_dac(), num_codebooks=2)
    processor = SimbaMusicProcessor.for_model(model, tiny_tokenizer())
    assert model.config.frame_rate == 1000.0
    output = model.generate(**processor(["piano"]), duration=0.02, seed=0, progress_bar=False)
    assert output.sequences.shape == (1, 2, 20) and output.audio.shape == (1, 1, 160)
    prompt = 0.1 * torch.randn(400)
    continued = model.generate(**processor(["piano"]), duration=0.02, seed=0, progress_bar=False, audio_prompt=prompt)
    assert continued.sequences.shape == (1, 2, 70)
    assert torch.equal(continued.sequences[:, :, :50], model.codec.encode(prompt[None, None]))


def test_stereo_codec_upmixes_a_mono_prompt():
    torch.manual_seed(0)
    codec = randomize_codebooks(EncodecModel(EncodecConfig(
        sampling_rate=8000, audio_channels=2, num_filters=2, upsampling_ratios=[8, 5, 4, 4], codebook_size=64,
        target_bandwidths=[1.0], hidden_size=8, codebook_dim=8, num_lstm_layers=1, normalize=False)).eval())
    model = composite(codec)
    processor = SimbaMusicProcessor.for_model(model, tiny_tokenizer())
    assert model.config.audio_channels == 2 and processor.feature_extractor.feature_size == 2
    output = model.generate(**processor(["piano"]), duration=0.4, seed=0, progress_bar=False,
                            audio_prompt=0.1 * torch.randn(1280))
    assert output.sequences.shape == (1, 1, 2 + 5) and output.audio.shape == (1, 2, 7 * 640)


def test_bfloat16_model_generates_float32_audio():
    model = tiny_text_to_music().to(torch.bfloat16)
    processor = SimbaMusicProcessor.for_model(model, tiny_tokenizer())
    output = model.generate(**processor(["piano"]), duration=0.8, seed=0, progress_bar=False)
    assert output.audio.dtype == torch.float32 and output.audio.shape == (1, 1, 10 * 640)
    assert torch.isfinite(output.audio).all()


def test_wavtokenizer_adapter_one_codebook_rates_and_round_trip():
    codec = AudioCodec(tiny_wavtokenizer())
    assert (codec.sampling_rate, codec.hop_length, codec.frame_rate, codec.channels) == (8000, 640, 12.5, 1)
    assert codec.codebook_size == 64 and codec.max_codebooks == 1
    t = torch.arange(6000) / 8000
    waveform = torch.stack([0.3 * torch.sin(2 * torch.pi * f * t * (1 + t)) for f in (110.0, 300.0)])[:, None]
    codes = codec.encode(waveform)
    assert codes.shape == (2, 1, 10) and codes.dtype == torch.long  # ceil(6000 / 640) frames
    assert len(codes.unique()) > 5  # codebook drawn from real encoder frames: codes vary
    direct = codec.model.decode(codes).audio_values
    assert torch.equal(codec.decode(codes), direct) and direct.shape == (2, 1, 6400)
    with pytest.raises(ValueError, match=r"num_codebooks: must be in \[1, 1\]"):
        AudioCodec(tiny_wavtokenizer(), num_codebooks=2)


def test_wavtokenizer_composite_generates_saves_and_loads(tmp_path):
    from transformers import AutoModelForTextToWaveform

    model = composite(tiny_wavtokenizer())
    processor = SimbaMusicProcessor.for_model(model, tiny_tokenizer())
    assert model.config.frame_rate == 12.5 and model.config.sampling_rate == 8000
    output = model.generate(**processor(["piano"]), duration=0.8, seed=0, progress_bar=False)
    assert output.sequences.shape == (1, 1, 10) and output.audio.shape == (1, 1, 6400)  # K=1: no delay pattern
    assert torch.equal(output.audio, model.codec.decode(output.sequences))
    model.save_pretrained(tmp_path)
    loaded = AutoModelForTextToWaveform.from_pretrained(tmp_path).eval()
    assert loaded.audio_encoder.config.model_type == "wavtokenizer"
    again = loaded.generate(**processor(["piano"]), duration=0.8, seed=0, progress_bar=False)
    assert torch.equal(again.sequences, output.sequences) and torch.allclose(again.audio, output.audio, atol=1e-6)


def test_wavtokenizer_streaming_error_falls_with_context():
    """WavTokenizer's decoder is not frame-local (GroupNorm statistics and one attention layer span the whole
    window), so a streamed decode only approaches the one-shot decode as context and lookahead grow."""
    model = composite(tiny_wavtokenizer())
    processor = SimbaMusicProcessor.for_model(model, tiny_tokenizer())
    inputs = processor(["piano"])
    full = model.generate(**inputs, duration=8.0, seed=0, progress_bar=False).audio
    errors = []
    for left, lookahead in ((0, 0), (13, 4), (50, 25)):
        chunks = []
        model.generate(**inputs, duration=8.0, seed=0, progress_bar=False,
                       streamer=CallbackAudioStreamer(chunks.append),
                       stream_left_context_frames=left, stream_lookahead_frames=lookahead)
        streamed = torch.cat(chunks, dim=-1)
        assert streamed.shape == full.shape
        errors.append(float((streamed - full).square().mean().sqrt() / full.square().mean().sqrt()))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.5 * errors[0]
