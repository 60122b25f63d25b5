"""Runs mamba-ssm's and causal-conv1d's kernels on CPU, for this folder only.

The fast path's Triton kernels run under Triton's interpreter; the kernels that exist only as compiled CUDA code
(`selective_scan_fn`, `causal_conv1d_fn`, `causal_conv1d_update`) are replaced by their packages' `_ref` functions,
called through the real function's signature so that our argument order is still checked. What this proves and what
it does not: README ("A short tour") and docs/REFERENCE.md, "Kernels".

The shims are applied by a package-scoped fixture, not at import: pytest imports every conftest at collection, and
nothing outside this folder may see them. Around the folder the fixture also clears `kernels`' lazily imported
kernels and drops every mamba-ssm / causal-conv1d module, so an import attempted elsewhere (unshimmed, e.g. by
`kernel_report()`) and this folder's shimmed import never see each other's modules.
"""

import contextlib
import importlib.metadata
import importlib.util
import inspect
import math
import os
import sys
import types

import pytest
import torch
from torch import nn

from simba_music.modeling import kernels
from simba_music.modeling.ssm import MambaMixer
from tests.conftest import tiny_config

WHEELS = {"mamba-ssm": "2.3.2.post1", "causal-conv1d": "1.7.0", "triton": None, "einops": None}
INSTALL = ("pip install triton einops && MAMBA_FORCE_BUILD=TRUE MAMBA_SKIP_CUDA_BUILD=TRUE pip install "
           "--no-build-isolation --no-deps mamba-ssm==2.3.2.post1 && CAUSAL_CONV1D_FORCE_BUILD=TRUE "
           "CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE pip install --no-build-isolation --no-deps causal-conv1d==1.7.0")
# In CI the suite must run: there a skip is a failure.
REQUIRED = os.environ.get("SIMBA_MUSIC_REQUIRE_FAST_PATH_SUITE", "0") not in ("", "0")
PACKAGES = ("mamba_ssm", "causal_conv1d", "selective_scan_cuda", "causal_conv1d_cuda")
TOLERANCE = 1e-4

# Numbers measured by the tests, printed at the end of the run (bf16 is reported, not asserted).
MEASURED: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter):
    if MEASURED:
        terminalreporter.section("fast path (mamba-ssm) vs PyTorch path: max |difference|")
        for name, value in MEASURED.items():
            terminalreporter.write_line(f"{name}: {value:.3g}")


def _missing_wheels() -> list[str]:
    missing = []
    for name in WHEELS:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


@contextlib.contextmanager
def _own_modules():
    """Set aside every module of PACKAGES (and `kernels`' cache), start without them, and put them back after."""
    ours = lambda name: name.split(".")[0] in PACKAGES  # noqa: E731
    saved_modules = {name: module for name, module in sys.modules.items() if ours(name)}
    saved_kernels = dict(kernels._loaded)
    for name in saved_modules:
        del sys.modules[name]
    kernels._loaded.clear()
    try:
        yield
    finally:
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        kernels._loaded.clear()
        kernels._loaded.update(saved_kernels)


class _CudaDevice:
    """`torch.cuda.device(None)` (a CPU tensor's device index) as a null context; anything else as before."""

    def __init__(self, original):
        self.original = original

    def __call__(self, device):
        return contextlib.nullcontext() if device is None else self.original(device)


def _through_signature(real, stand_in):
    """Call `stand_in` with the arguments bound as `real` would bind them: a wrong positional order shows."""
    signature = inspect.signature(real)

    def call(*args, **kwargs):
        return stand_in(**signature.bind(*args, **kwargs).arguments)
    return call


@contextlib.contextmanager
def _interpreted_triton_language():
    """Triton's own @triton.jit functions (tl.cumsum, tl.sigmoid, ...) as interpreted ones. `import torch` imports
    Triton, so they were defined before TRITON_INTERPRET was set; Triton cannot be imported afresh (its compiled
    core aborts), so they are swapped in place and put back afterwards."""
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    swapped, interpreted = [], {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "triton.language" or name.startswith("triton.language.")):
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, JITFunction):
                swapped.append((module, attribute, value))
                setattr(module, attribute, interpreted.setdefault(id(value), InterpretedFunction(value.fn)))
    try:
        yield
    finally:
        for module, attribute, value in swapped:
            setattr(module, attribute, value)


@contextlib.contextmanager
def _shims():
    from triton.language import bfloat16, float32
    from triton.runtime.autotuner import Autotuner
    from triton.runtime.interpreter import InterpreterBuilder

    saved = dict(interpret=os.environ.get("TRITON_INTERPRET"), device=torch.cuda.device,
                 prune=Autotuner.prune_configs, dot=InterpreterBuilder.create_dot)

    def smallest_config(self, kwargs):
        # Autotuning times each config on a GPU. The interpreter's cost grows with the block sizes, which these tiny
        # shapes never fill: keep the smallest.
        return [min(saved["prune"](self, kwargs), key=lambda config: (
            math.prod(value for key, value in config.kwargs.items() if key.startswith("BLOCK")), config.num_stages))]

    def widened_dot(self, a, b, d, *args):  # the interpreter multiplies bf16 operands as integer bit patterns
        a, b = (self.cast_impl(t, float32) if t.dtype == bfloat16 else t for t in (a, b))
        return saved["dot"](self, a, b, d, *args)

    with _own_modules(), _interpreted_triton_language():
        os.environ["TRITON_INTERPRET"] = "1"  # read when mamba-ssm's @triton.jit functions are defined
        for name in ("selective_scan_cuda", "causal_conv1d_cuda"):  # both packages import them in __init__
            if importlib.util.find_spec(name) is None:
                sys.modules[name] = types.ModuleType(name)
        torch.cuda.device = _CudaDevice(saved["device"])
        Autotuner.prune_configs, InterpreterBuilder.create_dot = smallest_config, widened_dot
        try:
            yield
        finally:
            Autotuner.prune_configs, InterpreterBuilder.create_dot = saved["prune"], saved["dot"]
            torch.cuda.device = saved["device"]
            if saved["interpret"] is None:
                os.environ.pop("TRITON_INTERPRET", None)
            else:
                os.environ["TRITON_INTERPRET"] = saved["interpret"]


def _load_kernels() -> None:
    """Import every fast kernel under the shims; the CUDA-only ones become their `_ref` functions."""
    from causal_conv1d.causal_conv1d_interface import causal_conv1d_ref, causal_conv1d_update_ref
    from mamba_ssm.ops.selective_scan_interface import selective_scan_ref

    refs = {"selective scan": selective_scan_ref, "causal conv": causal_conv1d_ref,
            "conv step": causal_conv1d_update_ref}
    for op in kernels.KERNEL_SOURCES:
        kernel = kernels._kernel(op)
        assert not isinstance(kernel, str), f"{op}: {kernel}"
        if op in refs:
            kernels._loaded[op] = kernels.Kernel(_through_signature(kernel.function, refs[op]),
                                                 kernel.implementation, any_device=True)


@pytest.fixture(scope="package", autouse=True)
def fast_kernels_on_cpu():
    missing = _missing_wheels()
    if missing:
        message = f"the fast-path suite needs {', '.join(missing)} (pure-Python, no CUDA build): {INSTALL}"
        if REQUIRED:
            pytest.fail(f"SIMBA_MUSIC_REQUIRE_FAST_PATH_SUITE is set but {message}", pytrace=False)
        pytest.skip(message)
    with _shims():
        _load_kernels()
        yield


def unit_gain_(model: nn.Module) -> nn.Module:
    """Weights under which a wrong argument shows: with the default init (std 0.02) swapping B and C in a kernel
    call moves the logits by ~1e-7; with these, by ~1e-2."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0, module.weight.shape[1] ** -0.5)
            elif isinstance(module, nn.Embedding):
                module.weight.normal_(0, 1)
            for name in ("D", "dt_bias"):
                if isinstance(getattr(module, name, None), nn.Parameter):
                    getattr(module, name).normal_(0, 1)
            if isinstance(module, MambaMixer):
                module.dt_proj.bias.normal_(0, 1)  # Mamba's dt bias
    return model


def max_difference(fast: torch.Tensor, slow: torch.Tensor) -> float:
    return (fast.double() - slow.double()).abs().max().item()


def assert_close(name: str, fast: torch.Tensor, slow: torch.Tensor, tolerance: float = TOLERANCE) -> float:
    """fast == slow within `tolerance` (absolute); records the difference for the summary."""
    assert fast.shape == slow.shape, (name, fast.shape, slow.shape)
    difference = max_difference(fast, slow)
    MEASURED[name] = max(difference, MEASURED.get(name, 0.0))
    assert difference <= tolerance, f"{name}: fast and slow paths differ by {difference:.3g} > {tolerance}"
    return difference


def small_config(variant: str = "prefix_simba", **overrides):
    """tiny_config at the interpreter's scale: 2 SSM heads of 16 channels, chunks of 16 (each interpreted chunk scan
    costs seconds, growing with heads and chunks)."""
    return tiny_config(variant, **{"hidden_size": 16, "head_dim": 16, "chunk_size": 16, **overrides})
