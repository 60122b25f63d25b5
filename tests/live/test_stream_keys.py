"""Key steering in a live stream: set while it plays, following its prompts until set, replayed bit for bit."""

import pytest
import torch

from simba_music.live import LiveStream
from simba_music.live.stream import NO_KEY
from simba_music.modeling.key_steering import code_key_fit
from simba_music.modeling.keys import key_index, parse_key
from simba_music.testing_utils import tiny_model_and_processor
from tests.live.test_stream import run
from tests.modeling.test_key_steering import chord_model

pytestmark = pytest.mark.usefixtures("one_thread")


def fits(model, codes, key: str) -> torch.Tensor:
    return code_key_fit(model.audio_encoder.code_chroma())[codes[0], key_index(*parse_key(key))]


def test_a_key_set_while_playing_steers_from_the_next_step_and_replays():
    model, processor = chord_model()
    options = dict(seed=2, key_strength=50.0)
    stream = LiveStream(model, processor, "organ chorale", **options)
    free, _ = run(stream, 20)
    stream.set_key("F# minor")
    steered, _ = run(stream, 20)
    stream.set_key(None)
    released, _ = run(stream, 20)
    assert steered[0].unique().tolist() == [12 + 6]  # every code the F# minor triad at strength 50
    assert float(fits(model, free, "F# minor").mean()) < 0.2 and len(released[0].unique()) > 3
    assert [change.change.key for change in stream.change_log] == ["F# minor", NO_KEY]

    replayed = LiveStream(model, processor, "organ chorale", replay=stream.change_log, **options)
    assert torch.equal(run(replayed, 60)[0], torch.cat([free, steered, released], -1))


def test_the_key_follows_the_prompts_until_one_is_set():
    model, processor = chord_model()
    model.generation_config.key_strength = 50.0
    stream = LiveStream(model, processor, "organ chorale in C major", seed=0)
    assert stream.key == "C major" and stream.keys_follow_prompts
    first, _ = run(stream, 10)
    stream.set_prompts("organ chorale in F# minor")
    second, _ = run(stream, 10)
    assert first[0].unique().tolist() == [0] and second[0].unique().tolist() == [18]
    stream.set_key("C major")
    stream.set_prompts("chorale in F# minor jazz")  # a set key no longer follows the prompts
    third, _ = run(stream, 10)
    assert stream.key == "C major" and third[0].unique().tolist() == [0]
    assert LiveStream(model, processor, "organ chorale", seed=0).key is None  # no key stated: none steered


def test_bad_keys_are_refused_at_once_and_the_stream_plays_on():
    model, processor = chord_model()
    stream = LiveStream(model, processor, "organ chorale")
    with pytest.raises(ValueError, match="key: expected '<tonic> major'"):
        stream.set_key("C lydian")
    with pytest.raises(ValueError, match=r"key_strength: must be in \[0, 50\]"):
        stream.set_key("C major", key_strength=60.0)
    with pytest.raises(ValueError, match=r"key_strength: must be in \[0, 50\]"):
        LiveStream(model, processor, "organ chorale", key="C major", key_strength=-1.0)
    encodec_model, encodec_processor = tiny_model_and_processor()
    with pytest.raises(ValueError, match="key: this model's encodec codec does not say which pitches"):
        LiveStream(encodec_model, encodec_processor, "calm piano", key="C major")
    encodec_stream = LiveStream(encodec_model, encodec_processor, "calm piano")
    with pytest.raises(ValueError, match="key: this model's encodec codec"):
        encodec_stream.set_key("C major")
    run(stream, 2)
    assert stream.change_log == [] and stream.key is None
