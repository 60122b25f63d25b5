"""The one place that picks SSM kernels: mamba-ssm / causal-conv1d on CUDA, the pure-PyTorch path elsewhere.

mamba-ssm's `__init__` imports a compiled CUDA extension, so on a CPU-only machine (or with a broken build) the import
raises. Every import here is guarded: `import simba_music` never fails because of it.

Set `SIMBA_MUSIC_FORCE_SLOW=1` (or use `force_slow_path()`) to run the PyTorch path on a GPU as well, e.g. for parity
checks.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import torch

from . import torch_kernels
from .cache import SSMState

try:  # noqa: SIM105 - any failure means "not available"; the reason is kept for `kernel_report()`.
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _mamba_selective_scan
    from mamba_ssm.ops.triton.selective_state_update import selective_state_update as _mamba_state_update
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined as _mamba_chunk_scan
    MAMBA_SSM_ERROR = None
except Exception as error:  # ImportError, or a broken extension raising anything else
    _mamba_selective_scan = _mamba_state_update = _mamba_chunk_scan = None
    MAMBA_SSM_ERROR = f"{type(error).__name__}: {error}"

try:
    from causal_conv1d import causal_conv1d_fn as _conv_fn
    from causal_conv1d import causal_conv1d_update as _conv_update
    CAUSAL_CONV1D_ERROR = None
except Exception as error:
    _conv_fn = _conv_update = None
    CAUSAL_CONV1D_ERROR = f"{type(error).__name__}: {error}"

_force_slow = os.environ.get("SIMBA_MUSIC_FORCE_SLOW", "0") not in ("", "0", "false", "False")


@contextlib.contextmanager
def force_slow_path(enabled: bool = True):
    """Run the PyTorch kernels even where the CUDA ones are available."""
    global _force_slow
    previous, _force_slow = _force_slow, enabled
    try:
        yield
    finally:
        _force_slow = previous


def _fast_ssm(tensor: torch.Tensor) -> bool:
    return _mamba_chunk_scan is not None and tensor.is_cuda and not _force_slow


def _fast_conv(tensor: torch.Tensor) -> bool:
    return _conv_fn is not None and tensor.is_cuda and not _force_slow


def kernel_report() -> dict:
    """Which kernels are importable, and why not."""
    return {
        "mamba_ssm": MAMBA_SSM_ERROR is None, "mamba_ssm_error": MAMBA_SSM_ERROR,
        "causal_conv1d": CAUSAL_CONV1D_ERROR is None, "causal_conv1d_error": CAUSAL_CONV1D_ERROR,
        "cuda": torch.cuda.is_available(), "forced_slow": _force_slow,
    }


def causal_conv1d(x, weight, bias, conv_state=None):
    """SiLU(depthwise causal conv) of `x` [B, C, L]; returns (output, new state [B, C, K])."""
    if _fast_conv(x) and conv_state is None:
        kernel = weight.shape[-1]
        out = _conv_fn(x, weight, bias, activation="silu")
        new_state = torch.nn.functional.pad(x, (max(kernel - x.shape[-1], 0), 0))[..., -kernel:].contiguous()
        return out, new_state
    return torch_kernels.causal_conv1d(x, weight, bias, conv_state)


def causal_conv1d_step(x, conv_state, weight, bias):
    """One convolution step of `x` [B, C]; `conv_state` [B, C, K] is updated in place."""
    if _fast_conv(x):
        return _conv_update(x, conv_state, weight, bias, "silu")
    return torch_kernels.causal_conv1d_step(x, conv_state, weight, bias)


def selective_scan(u, delta, A, B, C, D, z, initial_state=None):
    """Mamba scan over [B, D, L] inputs; returns (y, final state [B, D, N] float32)."""
    if _fast_ssm(u) and initial_state is None:
        y, last_state = _mamba_selective_scan(u, delta, A, B, C, D.float(), z=z, delta_softplus=False,
                                              return_last_state=True)
        return y, last_state.float()
    return torch_kernels.selective_scan(u, delta, A, B, C, D, z, initial_state)


def selective_state_step(state, u, delta, A, B, C, D, z):
    """One Mamba step; `state` [B, D, N] is updated in place."""
    if _fast_ssm(u):
        return _mamba_state_update(state, u, delta, A, B, C, D, z=z, dt_softplus=False)
    return torch_kernels.selective_state_step(state, u, delta, A, B, C, D, z)


def ssd_scan(x, dt, A, B, C, D, chunk_size, initial_state=None):
    """Mamba2 chunked scan over x [B, L, H, P]; returns (y, final state [B, H, P, N] float32)."""
    if _fast_ssm(x):
        y, final_state = _mamba_chunk_scan(x, dt, A, B, C, chunk_size, D=D, initial_states=initial_state,
                                           return_final_states=True)
        return y, final_state.float()
    return torch_kernels.ssd_scan(x, dt, A, B, C, D, chunk_size, initial_state)


def ssd_state_step(ssm: SSMState, x, dt, A, B, C, D):
    """One Mamba2 step of the cached `ssm` state (its `ssm_state` [B, H, P, N] and, on the PyTorch path, the steps
    it holds back in `ssm.deferred`)."""
    if _fast_ssm(x):
        ssm.settle()
        heads, head_dim, state_size = ssm.ssm_state.shape[1:]
        return _mamba_state_update(
            ssm.ssm_state, x, dt.unsqueeze(-1).expand(-1, -1, head_dim),
            A[:, None, None].expand(-1, head_dim, state_size), B, C,
            D[:, None].expand(-1, head_dim), dt_softplus=False)
    if ssm.deferred is None:
        ssm.deferred = torch_kernels.DeferredUpdates.empty(ssm.ssm_state, groups=B.shape[1])
    return torch_kernels.ssd_state_step(ssm.ssm_state, x, dt, A, B, C, D, ssm.deferred)


def warn_if_cuda_without_kernels(tensor: torch.Tensor) -> None:
    """Tell a GPU user once that the slow path is running and why."""
    if tensor.is_cuda and _mamba_chunk_scan is None and not getattr(warn_if_cuda_without_kernels, "done", False):
        warn_if_cuda_without_kernels.done = True
        warnings.warn(f"mamba-ssm kernels unavailable ({MAMBA_SSM_ERROR}); using the PyTorch path. "
                      "Install simba-music[cuda] for the fast path.", stacklevel=3)
