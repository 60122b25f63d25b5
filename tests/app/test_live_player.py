"""The Live tab's logic without a browser: the page's mix, real-time play, steering while it plays, and stop."""

import itertools
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from simba_music.app import live_player
from simba_music.app.live_player import LivePlayer, page_mix
from simba_music.testing_utils import tiny_model_and_processor

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def player(monkeypatch):
    monkeypatch.setattr(live_player, "LEAD_SECONDS", 60.0)  # no waiting for real time in tests
    model, processor = tiny_model_and_processor("t5")
    return LivePlayer(SimpleNamespace(model=model, processor=processor, sampling_rate=model.config.sampling_rate))


def test_the_page_mix_leaves_out_empty_boxes_and_names_what_is_wrong():
    assert page_mix(["harp", " ", "", " organ "], [0.7, 1.0, 1.0, 0.3]) == (("harp", 0.7), ("organ", 0.3))
    with pytest.raises(ValueError, match="Prompts: write at least one prompt"):
        page_mix(["", " ", "", ""], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="weights: at least one must be > 0"):
        page_mix(["harp", "organ", "", ""], [0, 0, 1, 1])


def test_play_steer_and_stop(player):
    chunks = player.play((("calm piano", 1.0),), guidance_scale=3.0, temperature=1.0, seed=0)
    first = [chunk for chunk, _ in itertools.islice(chunks, 2)]
    # 1 s chunks of a 12.5 frames/s codec: 12 frames of 640 samples, mono int16
    assert player.running and all(chunk.dtype == np.int16 and chunk.shape == (7680,) for chunk in first)
    assert player.steer((("calm piano", 0.5), ("jazz drums", 0.5)), guidance_scale=4.0, temperature=0.9)
    next(chunks)
    assert player.stream.mix == (("calm piano", 0.5), ("jazz drums", 0.5))
    assert player.stream.settings.guidance_scale == 4.0 and len(player.stream.change_log) == 2
    assert player.steer((("calm piano", 0.5), ("jazz drums", 0.5)), guidance_scale=4.0, temperature=0.9)
    next(chunks)
    assert len(player.stream.change_log) == 2  # what did not move is no change
    with pytest.raises(ValueError, match="weights"):
        player.steer((("calm piano", -1.0),))
    player.stop()
    assert list(chunks) == [] and not player.running  # the generator ended: generation stopped on the server
    assert not player.steer((("calm piano", 1.0),))


def test_a_new_play_stops_the_one_before(player):
    old = player.play((("calm piano", 1.0),), 3.0, 1.0, 0)
    next(old)
    new = player.play((("jazz drums", 1.0),), 3.0, 1.0, 1)
    next(new)
    assert list(old) == [] and player.stream.mix == (("jazz drums", 1.0),)
    done = threading.Event()
    threading.Thread(target=lambda: (player.stop(), done.set())).start()  # stop arrives from another thread
    assert done.wait(5) and list(new) == [] and not player.running
