import math

import pytest
import torch
from transformers import AutoConfig, AutoModel

from simba_music import PitchCodecConfig, PitchCodecModel
from simba_music.modeling.audio_codec import AudioCodec
from simba_music.modeling.phase_vocoder import PhaseVocoderStream
from simba_music.modeling.pitch_codec import log_stft_features
from simba_music.modeling.streaming import CallbackAudioStreamer, ChunkedAudioDecoder

pytestmark = pytest.mark.usefixtures("one_thread")


def tones(batch: int = 2, samples: int = 1000, rate: int = 8000, seed: int = 0) -> torch.Tensor:
    """A few random sine chords (real frames for the codebooks, as DESIGN.md section 3.0 asks)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / rate
    frequencies = 100 + 900 * torch.rand(batch, 3, 1, generator=generator)
    return 0.2 * torch.sin(2 * math.pi * frequencies * t).sum(1, keepdim=True)


def tiny_pitch_codec(seed: int = 0) -> PitchCodecModel:
    torch.manual_seed(seed)
    config = PitchCodecConfig(sampling_rate=8000, hop_length=80, analysis_n_fft=256, num_codebooks=2,
                              codebook_size=16, decoder_hidden_size=16, decoder_num_layers=2, decoder_kernel_size=3)
    model = PitchCodecModel(config).eval()
    frames = model.features(tones(8, 2000, seed=seed)).reshape(-1, config.feature_size)
    first = frames[torch.randperm(frames.shape[0])[:16]]
    residual = frames - first[torch.cdist(frames, first).argmin(1)]
    second = residual[torch.randperm(residual.shape[0])[:16]]
    model.set_codebooks(torch.stack([first, second]))
    return model


def test_round_trip_shapes_and_frame_alignment():
    model = tiny_pitch_codec()
    codes = model.encode(tones(2, 1000))
    assert codes.shape == (2, 2, 13) and codes.dtype == torch.long  # ceil(1000 / 80)
    assert model.decode(codes).shape == (2, 1, 13 * 80)
    assert model.encode(tones(1, 1000), num_codebooks=1).shape == (1, 1, 13)
    output = model(tones(1, 800))
    assert output.audio_codes.shape == (1, 2, 10) and output.audio_values.shape == (1, 1, 800)


def test_encode_is_deterministic_and_codes_vary():
    model = tiny_pitch_codec()
    audio = tones(2, 4000, seed=3)
    first, second = model.encode(audio), model.encode(audio.clone())
    assert torch.equal(first, second)
    assert len(first[:, 0].unique()) > 3


def test_phase_vocoder_keeps_a_tone_and_streams_exactly():
    config = PitchCodecConfig()
    t = torch.arange(32000) / 16000
    tone = 0.3 * torch.sin(2 * math.pi * 261.6 * t)[None]
    log_magnitude = log_stft_features(tone, config)
    whole = PhaseVocoderStream(2048, 320, config.log_floor, 1)
    audio = torch.cat([whole.push(log_magnitude), whole.finish()], dim=-1)
    assert audio.shape == (1, 32000)
    spectrum = torch.fft.rfft(audio[0, 4000:28000] * torch.hann_window(24000))
    assert abs(float(spectrum.abs().argmax()) * 16000 / 24000 - 261.6) < 1.0  # the pitch, not a frame-rate comb
    for size in (7, 1):  # one frame at a time: the first frames reach only samples before the first output one
        pieces = PhaseVocoderStream(2048, 320, config.log_floor, 1)
        parts = [pieces.push(chunk) for chunk in log_magnitude.split(size, dim=1)] + [pieces.finish()]
        torch.testing.assert_close(torch.cat(parts, dim=-1), audio, atol=1e-5, rtol=0)


def test_an_untrained_decoder_is_the_training_free_codec():
    model = tiny_pitch_codec()
    codes = model.encode(tones(1, 2000))
    with torch.no_grad():
        torch.testing.assert_close(model.decode(codes), model.synthesize(model.dequantize(codes)))


def test_features_resolve_a_semitone_from_c3():
    config = PitchCodecConfig()  # the default analysis: 2048-point STFT at 16 kHz, 7.8 Hz bins
    t = torch.arange(16000) / 16000
    c3, c_sharp3 = (log_stft_features(torch.sin(2 * math.pi * f * t)[None], config)[0, 25] for f in (130.8, 138.6))
    assert int(c3.argmax()) != int(c_sharp3.argmax())


def test_streaming_decode_equals_one_shot_decode():
    model = tiny_pitch_codec()
    codes = model.encode(tones(1, 8000, seed=5))  # 100 frames
    whole = model.decode(codes)
    with torch.no_grad():
        pieces = list(model.decode_stream(codes.split(7, dim=-1), chunk_frames=5))
    assert len(pieces) > 3
    torch.testing.assert_close(torch.cat(pieces, dim=-1), whole, atol=1e-4, rtol=0)


def test_audio_codec_wrapper_streams_with_the_stated_context():
    codec = AudioCodec(tiny_pitch_codec(), num_codebooks=2)
    assert (codec.sampling_rate, codec.hop_length, codec.frame_rate, codec.max_codebooks) == (8000, 80, 100.0, 2)
    assert codec.codebook_size == 16
    codes = codec.encode(tones(1, 4000))
    assert codes.shape == (1, 2, 50)
    whole = codec.decode(codes)
    pieces = []
    chunker = ChunkedAudioDecoder(codec, CallbackAudioStreamer(pieces.append), chunk_frames=4)
    for frame in codes.split(1, dim=-1):
        chunker.push(frame)
    chunker.finish()
    torch.testing.assert_close(torch.cat(pieces, dim=-1), whole, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match=r"num_codebooks: must be in \[1, 2\]"):
        AudioCodec(codec.model, num_codebooks=3)


def test_save_and_load_through_auto_model(tmp_path):
    model = tiny_pitch_codec()
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), PitchCodecConfig)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, PitchCodecModel)
    audio = tones(1, 2000, seed=7)
    codes = model.encode(audio)
    assert torch.equal(loaded.encode(audio), codes)
    with torch.no_grad():
        torch.testing.assert_close(loaded.decode(codes), model.decode(codes))


def test_gradients_reach_the_decoder_not_the_codebooks():
    model = tiny_pitch_codec().train()
    with torch.no_grad():  # the correction head starts at zero; after a first update it is not
        model.head.weight.normal_(0.0, 0.01)
    audio = tones(2, 1600)
    loss = (model(audio).audio_values - audio).abs().mean()
    loss.backward()
    for parameter in (model.input_conv.weight, model.blocks[0].up.weight, model.head.weight):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0
    assert not model.codebooks.requires_grad


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="analysis_n_fft: must be even and at least twice hop_length"):
        PitchCodecConfig(hop_length=320, analysis_n_fft=512)
    with pytest.raises(ValueError, match="decoder_kernel_size: must be odd"):
        PitchCodecConfig(decoder_kernel_size=4)
    model = tiny_pitch_codec()
    with pytest.raises(ValueError, match=r"codes: values must be in \[0, 16\)"):
        model.decode(torch.full((1, 2, 3), 16))
    with pytest.raises(ValueError, match="codebooks: expected shape"):
        model.set_codebooks(torch.zeros(1, 16, model.config.feature_size))


def test_text_to_music_generates_streams_and_reloads_on_the_pitch_codec(tmp_path):
    from simba_music import CallbackAudioStreamer
    from simba_music.modeling.processing import SimbaMusicProcessor
    from simba_music.testing_utils import tiny_text_to_music, tiny_tokenizer

    codec = tiny_pitch_codec()
    model = tiny_text_to_music(audio_encoder=codec, num_codebooks=2)
    assert model.config.frame_rate == 100.0
    processor = SimbaMusicProcessor.for_model(model, tiny_tokenizer(kind="t5"))
    inputs = processor(text=["organ chorale"], return_tensors="pt")
    chunks = []
    output = model.generate(**inputs, max_new_tokens=30, do_sample=True, streamer=CallbackAudioStreamer(chunks.append))
    assert output.audio.shape == (1, 1, 30 * 80)
    torch.testing.assert_close(torch.cat(chunks, dim=-1), output.audio, atol=1e-4, rtol=0)
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded.audio_encoder, PitchCodecModel)
    assert torch.equal(loaded.audio_encoder.codebooks, codec.codebooks)
