"""The slow path of each mixer against transformers' MambaMixer / Mamba2Mixer with the same weights."""

import pytest
import torch
from transformers import DynamicCache, Mamba2Config, MambaConfig
from transformers.models.mamba.modeling_mamba import MambaMixer as ReferenceMambaMixer
from transformers.models.mamba2.modeling_mamba2 import Mamba2Mixer as ReferenceMamba2Mixer

from simba_music.modeling.cache import SimbaMusicCache
from simba_music.modeling.ssm import Mamba2Mixer, MambaMixer
from tests.conftest import tiny_config


def _randomize(module):
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name == "A_log":
                parameter.copy_(torch.log(torch.rand_like(parameter) * 4 + 0.5))
            else:
                parameter.copy_(torch.randn_like(parameter) * 0.1)


def _stepwise(module, x, cache, prefill, **kwargs):
    outputs = [module(x[:, :prefill], cache, **kwargs)]
    for t in range(prefill, x.shape[1]):
        outputs.append(module(x[:, t:t + 1], cache, **kwargs))
    return torch.cat(outputs, dim=1)


def _assert_parity(ours, reference, seq_len, prefill, reference_cache=None):
    """Full forward and step-by-step decoding of `ours` (and, given a cache, of `reference`) against the reference's
    full forward on the same input, within 1e-5."""
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, seq_len, 32)
    with torch.no_grad():
        expected = reference(x)
        torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(_stepwise(ours, x, SimbaMusicCache(), prefill), expected, atol=1e-5, rtol=1e-5)
        if reference_cache is not None:
            torch.testing.assert_close(_stepwise(reference, x, reference_cache, prefill), expected,
                                       atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_groups", [1, 2])
@pytest.mark.parametrize("seq_len", [5, 19, 32])
def test_mamba2_matches_transformers(n_groups, seq_len):
    config = tiny_config(block_pattern=["mamba2"], n_groups=n_groups, state_size=16)
    ours = Mamba2Mixer(config, "0.0")
    _randomize(ours)
    ref_config = Mamba2Config(hidden_size=32, num_heads=config.num_ssm_heads, head_dim=16, state_size=16,
                              n_groups=n_groups, expand=2, conv_kernel=4, chunk_size=8, num_hidden_layers=1,
                              layer_norm_epsilon=config.rms_norm_eps, use_bias=False, use_conv_bias=True)
    reference = ReferenceMamba2Mixer(ref_config, layer_idx=0).eval()
    _assert_parity(ours, reference, seq_len, prefill=3, reference_cache=DynamicCache(config=ref_config))


@pytest.mark.parametrize("seq_len", [1, 7, 70])
def test_mamba_matches_transformers(seq_len):
    config = tiny_config(block_pattern=["mamba"], state_size=8, time_step_rank=4)
    ours = MambaMixer(config, "0.0")
    _randomize(ours)
    ref_config = MambaConfig(hidden_size=32, state_size=8, expand=2, conv_kernel=4, time_step_rank=4,
                             num_hidden_layers=1, use_bias=False, use_conv_bias=True, use_mambapy=False)
    reference = ReferenceMambaMixer(ref_config, layer_idx=0).eval()
    _assert_parity(ours, reference, seq_len, prefill=1)
