"""Kernel detection: the package imports without mamba-ssm, and the CUDA path is checked where a GPU exists."""

import subprocess
import sys
import textwrap

import pytest
import torch

from simba_music.modeling import kernels
from tests.conftest import tiny_config


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


def test_slow_path_is_used_on_cpu():
    assert not kernels._fast_ssm(torch.zeros(1))
    with kernels.force_slow_path():
        assert kernels._force_slow


cuda = pytest.mark.skipif(not torch.cuda.is_available() or kernels.MAMBA_SSM_ERROR is not None,
                          reason="needs CUDA and mamba-ssm")


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
