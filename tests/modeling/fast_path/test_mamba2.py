"""Mamba2 (SSD) on the fast path against the PyTorch path: the chunk scan, continuing from a cache
(`initial_states`), and the step kernel, with n_groups 1 and 2 and a length that is not a multiple of the chunk."""

import pytest
import torch

from simba_music import force_fast_path, force_slow_path
from simba_music.modeling import kernels, torch_kernels
from simba_music.modeling.cache import SimbaMusicCache
from simba_music.modeling.ssm import Mamba2Mixer

from .conftest import MEASURED, TOLERANCE, assert_close, max_difference, small_config, unit_gain_

PREFILL, CONTINUATION, DECODE = 11, 5, 4  # chunks of 16: none of the calls fills whole chunks; the forward has 2


def _mixer(n_groups: int, dtype=torch.float32) -> Mamba2Mixer:
    mixer = Mamba2Mixer(small_config(block_pattern=["mamba2"], n_groups=n_groups), "0.0")
    return unit_gain_(mixer).to(dtype)


def _run(mixer: Mamba2Mixer, x: torch.Tensor, continuation: int = CONTINUATION) -> dict[str, torch.Tensor]:
    """Full forward; then prefill, a multi-token continuation from the cache, and single-token decode steps."""
    cache, prefill = SimbaMusicCache(), x.shape[1] - DECODE - continuation
    with torch.no_grad():
        outputs = {"forward": mixer(x), "prefill": mixer(x[:, :prefill], cache)}
        if continuation:
            outputs["continuation"] = mixer(x[:, prefill:prefill + continuation], cache)
        steps = [mixer(x[:, t:t + 1], cache) for t in range(x.shape[1] - DECODE, x.shape[1])]
    state = cache.states["0.0"]
    kernels.settle(state)
    return {**outputs, "decode": torch.cat(steps, dim=1), "conv state": state.conv_state,
            "ssm state": state.ssm_state}


def _both_paths(mixer, x, **kwargs):
    with force_fast_path():
        fast = _run(mixer, x, **kwargs)
    with force_slow_path():
        slow = _run(mixer, x, **kwargs)
    return fast, slow


@pytest.mark.parametrize("n_groups", [1, 2])
def test_mamba2_fast_path_matches_slow_path(n_groups):
    mixer = _mixer(n_groups)
    x = torch.randn(2, PREFILL + CONTINUATION + DECODE, 16)
    fast, slow = _both_paths(mixer, x)
    for part in fast:
        assert_close(f"mamba2 n_groups={n_groups} {part}", fast[part], slow[part])
    # The pieces of the fast run continue one another: together they are its full forward.
    pieces = torch.cat([fast["prefill"], fast["continuation"], fast["decode"]], dim=1)
    assert max_difference(pieces, fast["forward"]) <= TOLERANCE


def test_fast_steps_continue_steps_the_slow_path_held_back(monkeypatch):
    """The PyTorch step defers its state updates (SSMState.kernel_state); a fast step taking over must fold them in
    first (kernels.settle), or it would read a stale state."""
    monkeypatch.setattr(torch_kernels, "SSD_DEFER_MIN_STATE", 0)  # defer even this tiny state
    mixer = _mixer(n_groups=2)
    x = torch.randn(2, 12, 16)
    outputs = {}
    for name, switch_at in (("slow", 12), ("mixed", 9)):
        cache = SimbaMusicCache()
        with torch.no_grad(), force_slow_path():
            steps = [mixer(x[:, :6], cache)] + [mixer(x[:, t:t + 1], cache) for t in range(6, switch_at)]
            assert name == "slow" or cache.states["0.0"].kernel_state.count == switch_at - 6
        with torch.no_grad(), force_fast_path():
            steps += [mixer(x[:, t:t + 1], cache) for t in range(switch_at, 12)]
        outputs[name] = torch.cat(steps, dim=1)
    assert_close("mamba2 fast steps after deferred slow steps", outputs["mixed"], outputs["slow"])


def _swap_B_and_C(op: str):
    right = kernels._kernel(op).function
    if op == "ssd scan":  # (x, dt, A, B, C, chunk_size, ...)
        return lambda x, dt, A, B, C, *args, **kwargs: right(x, dt, A, C, B, *args, **kwargs)
    return lambda state, x, dt, A, B, C, *args, **kwargs: right(state, x, dt, A, C, B, *args, **kwargs)


@pytest.mark.parametrize("op", ["ssd scan", "ssd step"])
def test_a_swapped_argument_is_seen(op, monkeypatch):
    """The comparison has teeth: B and C swapped in one kernel call moves the output far beyond the tolerance."""
    mixer = _mixer(n_groups=2)
    x = torch.randn(2, PREFILL + DECODE, 16)

    def run():  # the scan: a forward; the step: decode steps after a (PyTorch) prefill
        with torch.no_grad():
            if op == "ssd scan":
                return mixer(x)
            cache = SimbaMusicCache()
            with force_slow_path():
                mixer(x[:, :PREFILL], cache)
            return torch.cat([mixer(x[:, t:t + 1], cache) for t in range(PREFILL, x.shape[1])], dim=1)

    with force_slow_path():
        slow = run()
    with force_fast_path():
        correct = run()
        monkeypatch.setitem(kernels._loaded, op, kernels.Kernel(_swap_B_and_C(op), kernels.TRITON, any_device=True))
        swapped = run()
    good, bad = max_difference(correct, slow), max_difference(swapped, slow)
    MEASURED[f"mutation {op}: correct call"] = good
    MEASURED[f"mutation {op}: B and C swapped"] = bad
    assert good <= TOLERANCE
    assert bad > 100 * TOLERANCE, f"swapping B and C in the {op} call moved the output by only {bad:.3g}"


def test_bf16_is_reported():
    """bf16: reported in the summary, not asserted to the fp32 tolerance (the kernels round differently)."""
    mixer = _mixer(n_groups=2, dtype=torch.bfloat16)
    x = torch.randn(2, PREFILL + DECODE, 16, dtype=torch.bfloat16)
    fast, slow = _both_paths(mixer, x, continuation=0)
    for part in ("forward", "decode"):
        MEASURED[f"bf16 mamba2 {part} (not asserted)"] = max_difference(fast[part], slow[part])
    assert all(torch.isfinite(fast[part]).all() for part in fast)
