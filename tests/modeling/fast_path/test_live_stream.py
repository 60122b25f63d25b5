"""A live stream on the fast path against the PyTorch path: the same codes and row logits, with a prompt joining
mid-stream (its row primed in one prefill, then appended to the kernels' cache) and a reprime of every row."""

import pytest
import torch

import simba_music
from simba_music import force_slow_path
from simba_music.live import LiveStream
from simba_music.modeling import kernels
from simba_music.testing_utils import tiny_model_and_processor

from .conftest import assert_close, unit_gain_


@pytest.mark.slow  # about a minute under Triton's interpreter
def test_a_steered_live_stream_plays_the_same_codes_on_both_branches(monkeypatch):
    monkeypatch.setenv("SIMBA_MUSIC_FORCE_FAST", "1")
    model, processor = tiny_model_and_processor("t5")
    unit_gain_(model.decoder)  # with the std-0.02 init, a wrong kernel argument would move the logits by 1e-7
    choose, used = kernels._fast, set()

    def recording_fast(op, tensor):
        kernel = choose(op, tensor)
        if kernel is not None:
            used.add(op)
        return kernel

    monkeypatch.setattr(kernels, "_fast", recording_fast)

    def play():
        stream = LiveStream(model, processor, "calm piano", seed=0, top_k=1, priming_seconds=0.4,
                            reprime_seconds=0.8)  # 5 and 10 frames at 12.5 frames/s
        codes = [stream.step() for _ in range(4)]
        stream.add_prompt("jazz drums", 0.5)
        codes += [stream.step() for _ in range(8)]  # the reprime comes at step 10
        return torch.stack(codes, dim=-1), stream.row_logits

    assert simba_music.kernel_report("cpu")["ops"]["ssd step"]["implementation"] == "mamba-ssm Triton"
    fast_codes, fast_logits = play()
    assert {"ssd scan", "ssd step"} <= used, used  # the prefills and the steps ran mamba-ssm's kernels
    used.clear()
    with force_slow_path():
        slow_codes, slow_logits = play()
    assert not used
    assert torch.equal(fast_codes, slow_codes)
    assert_close("live stream row logits after a join and a reprime", fast_logits, slow_logits)
