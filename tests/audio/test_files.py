import numpy as np
import soundfile
import torch

from simba_music.audio import WavFileStreamer, load_audio, write_wav


def test_a_written_wav_reads_back_within_16_bit_precision_and_leaves_no_temporary(tmp_path):
    audio = 0.5 * np.sin(np.linspace(0, 40 * np.pi, 8000)).astype(np.float32)
    write_wav(tmp_path / "tone.wav", audio, 8000)
    assert [path.name for path in tmp_path.iterdir()] == ["tone.wav"]
    np.testing.assert_allclose(load_audio(tmp_path / "tone.wav", 8000), audio, atol=1 / 32768 + 1e-7)
    assert load_audio(tmp_path / "tone.wav", 16000).shape == (16000,)


def test_the_streamer_appends_chunks_in_order_and_clips(tmp_path):
    path = tmp_path / "stream.wav"
    with soundfile.SoundFile(str(path), "w", samplerate=8000, channels=2, subtype="PCM_16") as handle:
        streamer = WavFileStreamer(handle)
        streamer.put(torch.full((1, 2, 100), 0.25))
        streamer.put(torch.full((1, 2, 50), 2.0))
        streamer.end()
    written, rate = soundfile.read(str(path))
    assert rate == 8000 and written.shape == (150, 2) and streamer.frames == 150
    np.testing.assert_allclose(written[:100], 0.25, atol=1e-4)
    np.testing.assert_allclose(written[100:], 32767 / 32768, atol=1e-4)
