"""Kernel detection: the package imports without mamba-ssm, and the CUDA path is checked where a GPU exists."""

import subprocess
import sys
import textwrap

import pytest
import torch

from simba_music.modeling import kernels
from tests.conftest import tiny_config


@pytest.mark.slow
def test_import_survives_a_broken_mamba_ssm():
    code = textwrap.dedent("""
        import sys, types
        broken = types.ModuleType("mamba_ssm")
        broken.__path__ = []  # a package whose submodules fail, like a CPU-only install
        sys.modules["mamba_ssm"] = broken
        sys.modules["causal_conv1d"] = None
        import simba_music
        report = simba_music.kernel_report()
        assert not report["mamba_ssm"] and not report["causal_conv1d"], report
        print("ok", report["mamba_ssm_error"])
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_slow_path_is_used_on_cpu(monkeypatch):
    """A CPU forward and cached step run the PyTorch kernels, even where a kernel that runs on any device (Triton)
    is importable; force_slow_path() wins over a forced fast path."""
    from simba_music import SimbaMusicForCausalLM
    monkeypatch.delenv("SIMBA_MUSIC_FORCE_FAST", raising=False)
    monkeypatch.delenv("SIMBA_MUSIC_FORCE_SLOW", raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a fast kernel ran on CPU tensors")

    for op in kernels.KERNEL_SOURCES:
        monkeypatch.setitem(kernels._loaded, op, kernels.Kernel(refuse, kernels.TRITON, any_device=True))
    ran = set()
    for name in ("causal_conv1d", "causal_conv1d_step", "selective_scan", "selective_state_step", "ssd_scan",
                 "ssd_state_step"):
        original = getattr(kernels, f"torch_{name}")  # the dispatch's own handle on the PyTorch kernel
        monkeypatch.setattr(kernels, f"torch_{name}",
                            lambda *args, _name=name, _original=original, **kwargs: ran.add(_name)
                            or _original(*args, **kwargs))

    def run(variant):
        model = SimbaMusicForCausalLM(tiny_config(variant)).eval()
        ids = torch.randint(0, 64, (1, 12))
        with torch.no_grad():
            cache = model(ids[:, :11], use_cache=True).cache
            model(ids[:, 11:], cache=cache)

    run("prefix_mamba")  # Mamba2 blocks: ssd scan and step
    run("original_simba")  # Mamba blocks: selective scan and step
    assert ran == {"causal_conv1d", "causal_conv1d_step", "selective_scan", "selective_state_step", "ssd_scan",
                   "ssd_state_step"}
    assert {entry["implementation"] for entry in kernels.kernel_report("cpu")["ops"].values()} == {kernels.PYTORCH}
    with kernels.force_fast_path(), kernels.force_slow_path():
        ran.clear()
        run("prefix_mamba")
        assert "ssd_scan" in ran


def test_switches_nest_and_slow_wins(monkeypatch):
    monkeypatch.delenv("SIMBA_MUSIC_FORCE_SLOW", raising=False)
    monkeypatch.setenv("SIMBA_MUSIC_FORCE_FAST", "1")
    assert kernels._forced("fast")
    with kernels.force_fast_path(False):
        assert not kernels._forced("fast")
    stand_in = kernels.Kernel(lambda *args, **kwargs: None, kernels.TRITON, any_device=True)
    monkeypatch.setitem(kernels._loaded, "ssd scan", stand_in)
    assert kernels._fast("ssd scan", torch.zeros(1)) is stand_in.function
    with kernels.force_slow_path():
        assert kernels._fast("ssd scan", torch.zeros(1)) is None
    # A compiled CUDA kernel never gets a CPU tensor, even when forced.
    monkeypatch.setitem(kernels._loaded, "causal conv", kernels.Kernel(print, kernels.CONV, any_device=False))
    assert kernels._fast("causal conv", torch.zeros(1)) is None


def test_kernel_report_names_an_implementation_and_reason_per_op(monkeypatch):
    monkeypatch.delenv("SIMBA_MUSIC_FORCE_FAST", raising=False)
    monkeypatch.delenv("SIMBA_MUSIC_FORCE_SLOW", raising=False)
    monkeypatch.setattr(kernels, "_loaded", {op: "ImportError: not here" for op in kernels.KERNEL_SOURCES})
    report = kernels.kernel_report("cpu")
    assert set(report["ops"]) == {"ssd scan", "ssd step", "selective scan", "selective step", "causal conv",
                                  "conv step"}
    assert all(entry == {"implementation": "PyTorch", "reason": "tensors are not on CUDA"}
               for entry in report["ops"].values())
    assert report["mamba_ssm_error"] == "ImportError: not here" and not report["causal_conv1d"]
    assert kernels.kernel_report("cuda")["ops"]["ssd scan"]["reason"] == \
        "mamba-ssm is not importable (ImportError: not here)"
    triton = kernels.Kernel(print, kernels.TRITON, any_device=True)
    monkeypatch.setitem(kernels._loaded, "ssd scan", triton)
    monkeypatch.setitem(kernels._loaded, "selective scan", kernels.Kernel(print, kernels.CUDA, any_device=False))
    cuda_report = kernels.kernel_report("cuda")["ops"]
    assert cuda_report["ssd scan"] == {"implementation": "mamba-ssm Triton", "reason": "tensors on CUDA"}
    assert cuda_report["selective scan"]["implementation"] == "mamba-ssm CUDA"
    assert "no initial state" in cuda_report["selective scan"]["reason"]
    with kernels.force_fast_path():
        cpu_report = kernels.kernel_report("cpu")["ops"]
    assert cpu_report["ssd scan"]["implementation"] == "mamba-ssm Triton"
    assert cpu_report["selective scan"] == {"implementation": "PyTorch", "reason": (
        "mamba-ssm CUDA has only a compiled CUDA kernel; tensors are not on CUDA")}
    with kernels.force_slow_path():
        assert kernels.kernel_report("cuda")["ops"]["ssd scan"]["implementation"] == "PyTorch"


# `or` keeps a CPU machine from importing mamba-ssm at collection.
cuda = pytest.mark.skipif(not torch.cuda.is_available() or not kernels.kernel_report()["mamba_ssm"],
                          reason="needs CUDA and mamba-ssm")


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("variant", ["prefix_mamba", "original_simba"])
def test_fast_path_matches_slow_path_on_cuda(variant):
    from simba_music import SimbaMusicForCausalLM
    model = SimbaMusicForCausalLM(tiny_config(variant, hidden_size=64, head_dim=32, chunk_size=16)).cuda().eval()
    ids, text = torch.randint(0, 64, (2, 40), device="cuda"), torch.randn(2, 5, 24, device="cuda")
    with torch.no_grad():
        fast = model(ids, encoder_hidden_states=text).logits
        cache = model(ids[:, :30], encoder_hidden_states=text, use_cache=True).cache
        fast_steps = torch.cat([model(ids[:, t:t + 1], cache=cache).logits for t in range(30, 40)], 1)
        with kernels.force_slow_path():
            slow = model(ids, encoder_hidden_states=text).logits
    assert (fast - slow).abs().max() < 1e-3
    assert (fast_steps - slow[:, 30:]).abs().max() < 1e-3
