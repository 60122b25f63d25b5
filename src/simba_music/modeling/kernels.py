"""The one place that picks SSM kernels: mamba-ssm / causal-conv1d on CUDA, the pure-PyTorch path elsewhere.

mamba-ssm's `__init__` imports a compiled CUDA extension, so on a CPU-only machine (or with a broken build) the import
raises. The fast kernels are therefore imported lazily, the first time a tensor could use them (or `kernel_report()`
asks), and the outcome is cached; every failure is kept as the reason. `import simba_music` never imports them, so it
never fails because of them and does not pay for Triton's start-up.

Switches, read at every call so that setting them at run time works:
- `SIMBA_MUSIC_FORCE_SLOW=1` (or `force_slow_path()`): the PyTorch path everywhere, e.g. for parity checks on a GPU.
- `SIMBA_MUSIC_FORCE_FAST=1` (or `force_fast_path()`): a testing aid. The mamba-ssm branch for tensors on any device
  wherever its kernel is importable; Triton kernels then run on CPU tensors under Triton's interpreter
  (`TRITON_INTERPRET=1`, see tests/modeling/fast_path/). Kernels that exist only as compiled CUDA code keep the
  PyTorch path off CUDA. The slow switch wins over the fast one.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .torch_kernels import DeferredUpdates, conv_window
from .torch_kernels import causal_conv1d as torch_causal_conv1d
from .torch_kernels import causal_conv1d_step as torch_causal_conv1d_step
from .torch_kernels import conv_ssd_scan as torch_conv_ssd_scan
from .torch_kernels import selective_scan as torch_selective_scan
from .torch_kernels import selective_state_step as torch_selective_state_step
from .torch_kernels import ssd_scan as torch_ssd_scan
from .torch_kernels import ssd_state_step as torch_ssd_state_step

if TYPE_CHECKING:  # cache.py imports settle() from here
    from .cache import SSMState

TRITON, CUDA, CONV = "mamba-ssm Triton", "mamba-ssm CUDA", "causal-conv1d"
PYTORCH = "PyTorch"

# op -> (module, function, implementation). Triton kernels also run under Triton's interpreter (any device); the
# others are compiled CUDA extensions.
KERNEL_SOURCES = {
    "ssd scan": ("mamba_ssm.ops.triton.ssd_combined", "mamba_chunk_scan_combined", TRITON),
    "ssd step": ("mamba_ssm.ops.triton.selective_state_update", "selective_state_update", TRITON),
    "selective scan": ("mamba_ssm.ops.selective_scan_interface", "selective_scan_fn", CUDA),
    "selective step": ("mamba_ssm.ops.triton.selective_state_update", "selective_state_update", TRITON),
    "causal conv": ("causal_conv1d", "causal_conv1d_fn", CONV),
    "conv step": ("causal_conv1d", "causal_conv1d_update", CONV),
}
# Why a call falls back although the kernel runs: the kernel has no such input.
CACHE_LIMITS = {"selective scan": "selective_scan_fn takes no initial state",
                "causal conv": "continuing from a cache uses PyTorch: our window layout is not the kernel's"}


@dataclass
class Kernel:
    function: Callable
    implementation: str
    any_device: bool  # Triton (or a stand-in): runs wherever Triton runs; False: CUDA tensors only


# op -> Kernel, or the reason it could not be imported. Filled on first use; tests clear or substitute entries.
_loaded: dict[str, Kernel | str] = {}
_overrides: dict[str, bool | None] = {"slow": None, "fast": None}


def _kernel(op: str) -> Kernel | str:
    if op not in _loaded:
        module, name, implementation = KERNEL_SOURCES[op]
        try:
            _loaded[op] = Kernel(getattr(importlib.import_module(module), name), implementation,
                                 any_device=implementation == TRITON)
        except Exception as error:  # ImportError, or a broken extension raising anything else
            _loaded[op] = f"{type(error).__name__}: {error}"
    return _loaded[op]


def _forced(kind: str) -> bool:
    if _overrides[kind] is not None:
        return _overrides[kind]
    return os.environ.get(f"SIMBA_MUSIC_FORCE_{kind.upper()}", "0") not in ("", "0", "false", "False")


@contextlib.contextmanager
def _override(kind: str, enabled: bool):
    previous, _overrides[kind] = _overrides[kind], enabled
    try:
        yield
    finally:
        _overrides[kind] = previous


def force_slow_path(enabled: bool = True):
    """Run the PyTorch kernels even where the fast ones are available (context manager)."""
    return _override("slow", enabled)


def force_fast_path(enabled: bool = True):
    """Testing aid: take the mamba-ssm branch for tensors on any device where its kernel imports (context manager);
    see the module docstring. `force_slow_path()` still wins."""
    return _override("fast", enabled)


def _choose(op: str, on_cuda: bool) -> tuple[Kernel | None, str]:
    """The fast kernel for `op` on a CUDA or other tensor (None: PyTorch), and why."""
    if _forced("slow"):
        return None, "SIMBA_MUSIC_FORCE_SLOW / force_slow_path() is set"
    if not (on_cuda or _forced("fast")):
        return None, "tensors are not on CUDA"
    kernel = _kernel(op)
    if isinstance(kernel, str):
        package = KERNEL_SOURCES[op][0].split(".")[0].replace("_", "-")
        return None, f"{package} is not importable ({kernel})"
    if not (on_cuda or kernel.any_device):
        return None, f"{kernel.implementation} has only a compiled CUDA kernel; tensors are not on CUDA"
    reason = "tensors on CUDA" if on_cuda else "SIMBA_MUSIC_FORCE_FAST / force_fast_path() is set"
    return kernel, reason


def _fast(op: str, tensor: torch.Tensor) -> Callable | None:
    kernel, _ = _choose(op, tensor.is_cuda)
    return kernel.function if kernel is not None else None


def _package_error(package: str) -> str | None:
    errors = [_kernel(op) for op, (module, _, _) in KERNEL_SOURCES.items() if module.split(".")[0] == package]
    return next((error for error in errors if isinstance(error, str)), None)


def kernel_report(device: str | torch.device | None = None) -> dict:
    """Which kernels are importable (and why not), and per op which implementation runs for tensors on `device`
    (default: CUDA when available, else CPU) and why. Imports the fast kernels if that has not happened yet."""
    on_cuda = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type == "cuda"
    mamba_error, conv_error = _package_error("mamba_ssm"), _package_error("causal_conv1d")
    ops = {}
    for op in KERNEL_SOURCES:
        kernel, reason = _choose(op, on_cuda)
        if kernel is not None and op in CACHE_LIMITS:
            reason += f"; {CACHE_LIMITS[op]}"
        ops[op] = {"implementation": kernel.implementation if kernel is not None else PYTORCH, "reason": reason}
    return {
        "mamba_ssm": mamba_error is None, "mamba_ssm_error": mamba_error,
        "causal_conv1d": conv_error is None, "causal_conv1d_error": conv_error,
        "cuda": torch.cuda.is_available(), "forced_slow": _forced("slow"), "forced_fast": _forced("fast"),
        "ops": ops,
    }


def causal_conv1d(x, weight, bias, conv_state=None):
    """SiLU(depthwise causal conv) of `x` [B, C, L]; returns (output, new state [B, C, K])."""
    fast = _fast("causal conv", x) if conv_state is None else None
    if fast is not None:
        kernel = weight.shape[-1]
        out = fast(x, weight, bias, activation="silu")
        new_state = torch.nn.functional.pad(x, (max(kernel - x.shape[-1], 0), 0))[..., -kernel:].contiguous()
        return out, new_state
    return torch_causal_conv1d(x, weight, bias, conv_state)


def causal_conv1d_step(x, conv_state, weight, bias):
    """One convolution step of `x` [B, C]; `conv_state` [B, C, K] is updated in place."""
    fast = _fast("conv step", x)
    if fast is not None:
        return fast(x, conv_state, weight, bias, activation="silu")
    return torch_causal_conv1d_step(x, conv_state, weight, bias)


def selective_scan(u, delta, A, B, C, D, z, initial_state=None):
    """Mamba scan over [B, D, L] inputs (delta already softplus-ed); returns (y, final state [B, D, N] float32)."""
    fast = _fast("selective scan", u) if initial_state is None else None
    if fast is not None:
        y, last_state = fast(u, delta, A, B, C, D.float(), z=z, delta_bias=None, delta_softplus=False,
                             return_last_state=True)
        return y, last_state.float()
    return torch_selective_scan(u, delta, A, B, C, D, z, initial_state)


def selective_state_step(state, u, delta, A, B, C, D, z):
    """One Mamba step; `state` [B, D, N] is updated in place."""
    fast = _fast("selective step", u)
    if fast is not None:
        # delta is already softplus-ed: a zero dt_bias, which mamba-ssm <= 2.3.2 needs (it reads dt_bias.stride()).
        return fast(state, u, delta, A, B, C, D=D, z=z, dt_bias=delta.new_zeros(delta.shape[-1]), dt_softplus=False)
    return torch_selective_state_step(state, u, delta, A, B, C, D, z)


def ssd_scan(x, dt, A, B, C, D, chunk_size, initial_state=None):
    """Mamba2 chunked scan over x [B, L, H, P] (dt softplus-ed); returns (y, final state [B, H, P, N] float32).

    The gate z is applied outside (the gated RMSNorm), and there is no packing: z and seq_idx stay None."""
    fast = _fast("ssd scan", x)
    if fast is not None:
        y, final_state = fast(x, dt, A, B, C, chunk_size, D=D, z=None, dt_bias=None, initial_states=initial_state,
                              seq_idx=None, dt_softplus=False, return_final_states=True)
        return y, final_state.float()
    return torch_ssd_scan(x, dt, A, B, C, D, chunk_size, initial_state)


def conv_ssd_scan(xBC, conv_weight, conv_bias, dt, A, D, chunk_size, layout, ssm_state=None, conv_state=None):
    """Mamba2's path from in_proj to the gated norm: SiLU(causal conv(xBC)) [B, L, channels] split by `layout` into
    x, B and C, then the chunked scan. Returns (y [B, L, H, P], final state [B, H, P, N] float32, conv window).

    Training on the PyTorch path (gradients wanted, no cache) runs both as one Function that recomputes the
    convolution in its backward instead of keeping its output (`conv_ssd.py`); elsewhere the two ops run as they
    would alone, each on its fast kernel where one applies."""
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (xBC, conv_weight, conv_bias, dt, A, D, ssm_state))
    if (needs_grad and conv_state is None and _fast("causal conv", xBC) is None
            and _fast("ssd scan", xBC) is None):
        y, final_state = torch_conv_ssd_scan(xBC, conv_weight, conv_bias, dt, A, D, chunk_size, layout, ssm_state)
        return y, final_state, conv_window(xBC.transpose(1, 2), conv_weight.shape[-1])
    activated, window = causal_conv1d(xBC.transpose(1, 2), conv_weight, conv_bias, conv_state)
    x, B, C = layout.split(activated.transpose(1, 2))
    y, final_state = ssd_scan(x, dt, A, B, C, D, chunk_size, ssm_state)
    return y, final_state, window


def settle(ssm: SSMState) -> None:
    """Make `ssm.ssm_state` the whole state, for anything that reads or moves it other than the PyTorch Mamba2 step:
    fold in what that kernel holds back in `ssm.kernel_state`. The one place that knows a kernel keeps state there."""
    if ssm.kernel_state is not None:
        ssm.kernel_state.fold_into(ssm.ssm_state)
        ssm.kernel_state = None


def ssd_state_step(ssm: SSMState, x, dt, A, B, C, D):
    """One Mamba2 step of the cached `ssm` state (its `ssm_state` [B, H, P, N] and, on the PyTorch path, the steps
    that kernel holds back in `ssm.kernel_state`)."""
    fast = _fast("ssd step", x)
    if fast is not None:
        settle(ssm)  # the kernel reads ssm_state alone
        heads, head_dim, state_size = ssm.ssm_state.shape[1:]
        per_dim = lambda t: t.unsqueeze(-1).expand(*t.shape, head_dim)  # noqa: E731 - stride 0, as mamba-ssm's step
        # dt is already softplus-ed: a zero dt_bias (stride 0 like dt and A, so the kernel ties them per head).
        return fast(ssm.ssm_state, x, per_dim(dt), per_dim(A).unsqueeze(-1).expand(-1, -1, state_size), B, C,
                    D=per_dim(D), z=None, dt_bias=per_dim(dt.new_zeros(heads)), dt_softplus=False)
    if ssm.kernel_state is None:
        ssm.kernel_state = DeferredUpdates.empty(ssm.ssm_state, groups=B.shape[1])
    return torch_ssd_state_step(ssm.ssm_state, x, dt, A, B, C, D, ssm.kernel_state)


def warn_if_cuda_without_kernels(tensor: torch.Tensor) -> None:
    """Tell a GPU user once that the slow path is running and why."""
    if not tensor.is_cuda or getattr(warn_if_cuda_without_kernels, "done", False):
        return
    error = _kernel("ssd scan")
    if isinstance(error, str):
        warn_if_cuda_without_kernels.done = True
        warnings.warn(f"mamba-ssm kernels unavailable ({error}); using the PyTorch path. "
                      "Install simba-music[cuda] for the fast path.", stacklevel=3)
