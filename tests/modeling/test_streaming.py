import gc
import threading

import psutil
import pytest
import torch

from simba_music import AudioIteratorStreamer, CallbackAudioStreamer
from simba_music.testing_utils import tiny_model_and_processor

# Generation loops of tiny models: one thread (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("num_codebooks", [1, 2])
def test_streamed_chunks_equal_the_one_shot_decode(num_codebooks):
    model, processor = tiny_model_and_processor("t5", num_codebooks=num_codebooks)
    chunks = []
    output = model.generate(**processor(["calm piano", "jazz drums"]), duration=4.0, seed=0, progress_bar=False,
                            streamer=CallbackAudioStreamer(chunks.append))
    assert len(chunks) >= 3  # 50 frames in chunks of 13 (1 s)
    assert all(chunk.shape[:2] == (2, 1) for chunk in chunks)
    streamed = torch.cat(chunks, dim=-1)
    assert streamed.shape == output.audio.shape
    assert (streamed - output.audio).abs().max() < 1e-4 * output.audio.abs().max()


def test_stream_without_context_is_not_seamless():
    """The overlap is what makes the joins seamless: with no context on either side they click."""
    model, processor = tiny_model_and_processor("t5")
    chunks = []
    output = model.generate(**processor(["calm piano"]), duration=4.0, seed=0, progress_bar=False,
                            streamer=CallbackAudioStreamer(chunks.append), stream_left_context_frames=0,
                            stream_lookahead_frames=0)
    assert (torch.cat(chunks, dim=-1) - output.audio).abs().max() > 1e-2 * output.audio.abs().max()


def test_iterator_streamer_in_a_thread(t5_model):
    model, processor = t5_model
    streamer = AudioIteratorStreamer(timeout=60)
    result = {}
    thread = threading.Thread(target=lambda: result.update(output=model.generate(
        **processor(["calm piano"]), duration=3.0, seed=0, progress_bar=False, streamer=streamer)))
    thread.start()
    received = [chunk for chunk in streamer]
    thread.join()
    assert torch.allclose(torch.cat(received, dim=-1), result["output"].audio, atol=1e-5)


@pytest.mark.slow
def test_five_minutes_in_one_pass_with_flat_memory():
    """5 minutes (1875 frames of a 6.25 frames/s codec) against 10 seconds: the decoder state must not grow at all,
    and the process's resident memory (sampled at every streamed chunk) must stay flat."""
    model, processor = tiny_model_and_processor("t5", sampling_rate=4000)
    inputs = processor(["calm piano"])
    process = psutil.Process()
    cache_bytes = []
    decoder_forward = model.decoder.forward

    def recording_forward(*args, **kwargs):
        output = decoder_forward(*args, **kwargs)
        cache_bytes.append(sum(value.nbytes for state in kwargs["cache"].states.values()
                               for value in vars(state).values() if isinstance(value, torch.Tensor)))
        return output

    def peak_rss(duration):
        gc.collect()
        before = process.memory_info().rss
        samples = [before]
        streamer = CallbackAudioStreamer(lambda chunk: samples.append(process.memory_info().rss))
        cache_bytes.clear()
        output = model.generate(**inputs, duration=duration, seed=0, streamer=streamer, return_audio=False,
                                progress_bar=False)
        return output, before, max(samples), list(cache_bytes)

    model.decoder.forward = recording_forward
    try:
        peak_rss(10.0)  # warm-up: first-call allocations
        short, _, short_peak, short_cache = peak_rss(10.0)
        long, long_before, long_peak, long_cache = peak_rss(300.0)
    finally:
        del model.decoder.forward
    assert short.sequences.shape[-1] == 62 and long.sequences.shape[-1] == 1875 and long.audio is None
    assert len(set(long_cache)) == 1 and long_cache[0] == short_cache[0]  # constant-size SSM state
    assert long_peak <= 1.1 * short_peak
    # Holding the 5-minute waveform alone would take 4.8 MB; decoder state plus codes must stay far below that.
    assert long_peak - long_before < 3_000_000
