"""Tempo steering in a live stream: the beat continues through tempo changes and reprimes, follows the prompts until
a tempo is set, and replays bit for bit."""

import pytest
import torch

from simba_music.live import LiveStream
from simba_music.live.stream import NO_TEMPO
from simba_music.testing_utils import tiny_model_and_processor
from tests.live.test_stream import run

pytestmark = pytest.mark.usefixtures("one_thread")
OPTIONS = dict(seed=2, tempo_strength=50.0, guidance_scale=1.0, chunk_seconds=0.5)


def changes(codes: torch.Tensor, offset: int = 0) -> list[int]:
    """Frames (counted from the stream's first) whose first-codebook code differs from the frame before."""
    row = codes[0]
    return ((row[1:] != row[:-1]).nonzero().flatten() + 1 + offset).tolist()


def test_a_tempo_set_while_playing_keeps_the_beat_and_replays():
    model, processor = tiny_model_and_processor(logit_scale=1.0)  # 12.5 frames/s
    stream = LiveStream(model, processor, "calm piano", tempo_bpm=75.0, reprime_seconds=2.0, priming_seconds=0.5,
                          **OPTIONS)
    first, _ = run(stream, 35)  # a beat every 10 frames; repriming every 25 frames does not disturb it
    stream.set_tempo(150.0)  # 5 frames a beat: the half beat left at frame 35 takes 2.5 frames, so the next is 38
    second, _ = run(stream, 20)
    stream.set_tempo(None)
    third, _ = run(stream, 40)
    codes = torch.cat([first, second, third], dim=-1)
    assert changes(codes[:, :55]) == [10, 20, 30, 38, 43, 48, 53]
    assert len(changes(codes[:, 55:])) > 25  # released: the random decoder changes code at most frames
    assert [(timed.step, timed.change.tempo_bpm) for timed in stream.change_log] == [(35, 150.0), (55, NO_TEMPO)]
    replayed = LiveStream(model, processor, "calm piano", tempo_bpm=75.0, reprime_seconds=2.0, priming_seconds=0.5,
                          replay=stream.change_log, **OPTIONS)
    assert torch.equal(run(replayed, 95)[0], codes)


def test_the_tempo_follows_the_prompts_until_one_is_set():
    model, processor = tiny_model_and_processor(logit_scale=1.0)
    model.generation_config.tempo_strength = 50.0
    stream = LiveStream(model, processor, "calm piano at 75 BPM", seed=0, guidance_scale=1.0)
    assert stream.tempo_bpm == 75.0 and stream.tempos_follow_prompts
    first, _ = run(stream, 20)
    stream.set_prompts("calm piano at 150 BPM")
    second, _ = run(stream, 20)
    assert stream.tempo_bpm == 150.0
    stream.set_tempo(75.0)
    stream.set_prompts("calm piano at 60 BPM")  # a set tempo no longer follows the prompts
    run(stream, 1)
    assert stream.tempo_bpm == 75.0
    assert changes(first) == [10] and changes(second, 20) == [25, 30, 35]
    assert LiveStream(model, processor, "calm piano", seed=0).tempo_bpm is None  # no tempo stated: none steered


def test_bad_tempi_are_refused_at_once():
    model, processor = tiny_model_and_processor()
    stream = LiveStream(model, processor, "calm piano")
    with pytest.raises(ValueError, match=r"tempo_bpm: must be a tempo in \[30, 300\]"):
        stream.set_tempo(400.0)
    with pytest.raises(ValueError, match=r"tempo_strength: must be in \[0, 50\]"):
        stream.set_tempo(90.0, tempo_strength=-1.0)
    with pytest.raises(ValueError, match=r"tempo_bpm: must be a tempo in \[30, 300\]"):
        stream.set_tempo(0)  # not "off": that is set_tempo(None)
    with pytest.raises(ValueError, match=r"tempo_bpm: must be a tempo"):
        LiveStream(model, processor, "calm piano", tempo_bpm=10.0)
    assert stream.change_log == [] and stream.tempo_bpm is None
