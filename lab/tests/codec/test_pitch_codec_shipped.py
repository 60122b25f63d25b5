"""The demo's pitch codec (`simba_music/pretrained/pitch-codec-16khz`, 2 x 1024 k-means codes, phase-vocoder
decoder) keeps a chord's pitches and lays no frame-rate comb; the same measure run through the lab's
`chorale-codec-16khz` shows the comb, so the measure can fail."""

import math

import torch
from transformers import AutoModel

from simba_music.modeling.audio_codec import AudioCodec
from simba_music.modeling.pitch_codec import PitchCodecModel
from simba_music.shipped import shipped_path
from simba_music_lab.shipped import LAB_PRETRAINED_ROOT

RATE = 16000


def c_major_triad(seconds: float = 3.0) -> torch.Tensor:
    """Harmonic tones (the codebooks were fitted on instrument renders, not on pure sines)."""
    t = torch.arange(int(seconds * RATE)) / RATE
    return 0.08 * sum(torch.sin(2 * math.pi * f * h * t) / h for f in (261.63, 329.63, 392.0) for h in range(1, 6))


def spectrum_of(audio: torch.Tensor) -> torch.Tensor:
    return torch.fft.rfft(audio[8000:40000] * torch.hann_window(32000)).abs()  # 0.5 Hz bins


def comb_ratio(spectrum: torch.Tensor) -> float:
    """Power at k x 50 Hz (the frame rate) over power halfway between, k = 2..39."""
    teeth = spectrum[[k * 100 for k in range(2, 40)]].square().mean()
    between = spectrum[[k * 100 + 50 for k in range(2, 40)]].square().mean()
    return float(teeth / between)


def round_trip(codec: AudioCodec, audio: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return codec.decode(codec.encode(audio[None, None]))[0, 0]


def test_the_pitch_codec_keeps_root_and_fifth_without_a_frame_rate_comb():
    model = AutoModel.from_pretrained(shipped_path("pitch-codec-16khz")).eval()
    assert isinstance(model, PitchCodecModel) and model.config.frame_rate == 50.0
    spectrum = spectrum_of(round_trip(AudioCodec(model, num_codebooks=2), c_major_triad()))
    peaks = [i for i in range(100, 1600) if spectrum[i] > spectrum[i - 1] and spectrum[i] >= spectrum[i + 1]]
    strongest = [i / 2 for i in sorted(peaks, key=lambda i: -float(spectrum[i]))[:8]]
    for note in (261.63, 392.0):  # C4 and G4 come back within a quarter tone
        assert any(abs(found - note) < note * 0.03 for found in strongest), (note, strongest)
    assert comb_ratio(spectrum) < 10


def test_the_comb_measure_sees_the_old_codecs_comb():
    old = AudioCodec(AutoModel.from_pretrained(LAB_PRETRAINED_ROOT / "chorale-codec-16khz").eval(), num_codebooks=4)
    assert comb_ratio(spectrum_of(round_trip(old, c_major_triad()))) > 10
