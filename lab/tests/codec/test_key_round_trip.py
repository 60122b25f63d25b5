"""The key-keeping measure: the librosa key estimate on signals of known answer, then a codec that
keeps everything against one that turns everything into G major, then the rendered 16-key set."""

import os

import numpy as np
import pytest
import torch

from simba_music_lab.codec.key_round_trip import (
    KeyExcerpt,
    key_librosa,
    key_round_trip,
    render_key_set,
)

RATE = 16000
pytest.importorskip("librosa")


def harmonic_tone(frequency: float, seconds: float, partials: int = 6) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(0.5 ** k * np.sin(2 * np.pi * frequency * (k + 1) * t) for k in range(partials))


def cadence(tonic: int, mode: str) -> np.ndarray:
    """I-IV-V-I (i-iv-V-i) of harmonic tones around middle C, 1 s a chord, twice, with the tonic in the bass."""
    third = 3 if mode == "minor" else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    pieces = []
    for chord in chords * 2:
        notes = [48 + tonic] + [60 + tonic + interval for interval in chord]
        pieces.append(sum(harmonic_tone(440 * 2 ** ((note - 69) / 12), 1.0) for note in notes))
    audio = np.concatenate(pieces)
    return (0.7 * audio / np.abs(audio).max()).astype(np.float32)


KEYS = [(0, "major"), (7, "major"), (2, "major"), (5, "major"), (10, "major"), (9, "minor"), (4, "minor"),
        (2, "minor")]


def test_librosa_key_on_cadences_of_known_key():
    """The estimator's calibration: the cadences' keys, which a wrong profile rotation or mode would miss."""
    hits = sum(key_librosa(cadence(tonic, mode), RATE) == (tonic, mode) for tonic, mode in KEYS)
    assert hits >= 7


class IdentityCodec:
    sampling_rate, frame_rate, num_codebooks, channels = RATE, 50.0, 1, 1

    def encode(self, waveform):
        return waveform

    def decode(self, codes):
        return codes


class GMajorCodec(IdentityCodec):
    """The old codec's failure: whatever goes in, G major comes out (with a 50 Hz comb)."""

    def decode(self, codes):
        audio = cadence(7, "major")[:codes.shape[-1]]
        pulse = np.zeros_like(audio)
        pulse[::RATE // 50] = 0.3
        return torch.from_numpy(audio + pulse)[None, None]


def test_a_codec_that_keeps_everything_against_one_that_plays_g_major():
    excerpts = [KeyExcerpt(f"cadence_{tonic}_{mode}", cadence(tonic, mode), tonic, mode) for tonic, mode in KEYS]
    estimators = {"librosa": key_librosa}
    kept = key_round_trip(IdentityCodec(), excerpts, estimators)["summary"]
    assert kept["librosa"]["keys_kept"] == 8 and kept["librosa"]["accuracy_on_originals"] >= 7
    assert kept["comb_round_trip"] == pytest.approx(kept["comb_original"])
    g_major = key_round_trip(GMajorCodec(), excerpts, estimators)["summary"]
    assert g_major["librosa"]["distinct_keys_round_trip"] == 1 and g_major["librosa"]["keys_kept"] <= 1
    assert g_major["comb_round_trip"] > 10 * g_major["comb_original"]


@pytest.mark.slow
def test_the_rendered_key_set_covers_16_keys():
    from simba_music_lab.corpus.render import SOUNDFONTS, fluidsynth_available

    if not fluidsynth_available() or not os.path.isfile(SOUNDFONTS["timgm6mb"]):
        pytest.skip("needs fluidsynth and the timgm6mb soundfont (apt-get install fluidsynth timgm6mb-soundfont)")
    excerpts = render_key_set("timgm6mb", RATE)
    assert len(excerpts) == 16 and len({(e.tonic, e.mode) for e in excerpts}) == 16
    assert sum(e.mode == "major" for e in excerpts) == 8
    assert all(e.audio.shape == (10 * RATE,) and abs(np.abs(e.audio).max() - 0.7) < 1e-3 for e in excerpts)
    # The transposition moved the music: the estimator finds the rendered key in most excerpts (chance: 1 in 24).
    assert sum(key_librosa(e.audio, RATE) == (e.tonic, e.mode) for e in excerpts) >= 8


def test_the_first_audible_sample_skips_the_leading_silence():
    from simba_music_lab.codec.key_round_trip import first_audible_sample

    audio = np.concatenate([np.zeros(300), 1e-4 * np.ones(5), [0.5, 0.0]])
    assert first_audible_sample(audio) == 305
    assert first_audible_sample(np.zeros(10)) == 0


def test_reconstruct_sends_mono_through_a_stereo_codec_on_both_channels_and_returns_their_mean():
    from transformers import EncodecConfig, EncodecModel

    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music_lab.codec.report import reconstruct

    torch.manual_seed(0)
    codec = AudioCodec(EncodecModel(EncodecConfig(
        sampling_rate=8000, audio_channels=2, num_filters=2, upsampling_ratios=[8, 5, 4, 4], codebook_size=64,
        target_bandwidths=[1.0], hidden_size=8, codebook_dim=8, num_lstm_layers=1, normalize=False)).eval())
    audio = (0.1 * np.random.default_rng(0).standard_normal(1000)).astype(np.float32)
    with torch.no_grad():
        decoded = codec.decode(codec.encode(torch.from_numpy(audio)[None, None].repeat(1, 2, 1)))
        round_trip = reconstruct(codec, audio)
    assert round_trip.shape == audio.shape
    np.testing.assert_allclose(round_trip, decoded[0, :, :1000].mean(0).numpy(), atol=1e-6)
    assert not np.allclose(decoded[0, 0, :1000].numpy(), decoded[0, 1, :1000].numpy())  # the mean, not one channel
