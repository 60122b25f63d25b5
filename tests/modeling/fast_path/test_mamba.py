"""Mamba (original SiMBA's mixer) and causal-conv1d on the fast path against the PyTorch path. The scan and the two
convolution kernels are CUDA-only: here they are their packages' `_ref` functions, reached through the real
functions' signatures (conftest); the step is mamba-ssm's Triton kernel."""

import torch

from simba_music import force_fast_path, force_slow_path
from simba_music.modeling.cache import SimbaMusicCache
from simba_music.modeling.ssm import MambaMixer

from .conftest import assert_close, small_config, unit_gain_

PREFILL, DECODE = 11, 4


def _run(mixer: MambaMixer, x: torch.Tensor) -> dict[str, torch.Tensor]:
    cache = SimbaMusicCache()
    with torch.no_grad():
        outputs = {"forward": mixer(x), "prefill": mixer(x[:, :PREFILL], cache)}
        steps = [mixer(x[:, t:t + 1], cache) for t in range(PREFILL, x.shape[1])]
    state = cache.states["0.0"]
    return {**outputs, "decode": torch.cat(steps, dim=1), "conv state": state.conv_state,
            "ssm state": state.ssm_state}


def test_mamba_fast_path_matches_slow_path():
    mixer = unit_gain_(MambaMixer(small_config("original_simba", state_size=8, time_step_rank=4), "0.0"))
    x = torch.randn(2, PREFILL + DECODE, 16)
    with force_fast_path():
        fast = _run(mixer, x)
    with force_slow_path():
        slow = _run(mixer, x)
    for part in fast:
        assert_close(f"mamba {part}", fast[part], slow[part])
