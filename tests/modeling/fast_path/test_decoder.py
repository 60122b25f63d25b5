"""Whole decoders on the fast path against the PyTorch path: logits through forward, continuation and decode, and
greedy generate() of Prefix SiMBA, Cross SiMBA, a hybrid and original SiMBA (the same codes on both branches)."""

import pytest
import torch

import simba_music
from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM, force_slow_path

from .conftest import assert_close, small_config, unit_gain_


def test_public_api_decoder_gives_the_same_logits_on_both_branches(monkeypatch):
    """Built only through public APIs: SimbaMusicConfig, SimbaMusicForCausalLM, SIMBA_MUSIC_FORCE_FAST=1 and
    force_slow_path (plus unit-gain weights, under which a wrong kernel argument shows)."""
    monkeypatch.setenv("SIMBA_MUSIC_FORCE_FAST", "1")
    config = SimbaMusicConfig(hidden_size=16, num_hidden_layers=2, state_size=8, head_dim=16, n_groups=2,
                              num_attention_heads=4, text_hidden_size=24, vocab_size=65, special_token_id=64,
                              chunk_size=16)
    model = unit_gain_(SimbaMusicForCausalLM(config).eval())
    ids, text = torch.randint(0, 64, (2, 14)), torch.randn(2, 3, 24)

    def logits():
        with torch.no_grad():
            out = model(ids[:, :7], encoder_hidden_states=text, use_cache=True)
            parts = {"forward": model(ids, encoder_hidden_states=text).logits, "prefill": out.logits,
                     "continuation": model(ids[:, 7:10], cache=out.cache).logits}
            parts["decode"] = torch.cat([model(ids[:, t:t + 1], cache=out.cache).logits for t in range(10, 14)], 1)
        return parts

    report = simba_music.kernel_report("cpu")["ops"]
    assert report["ssd scan"]["implementation"] == report["ssd step"]["implementation"] == "mamba-ssm Triton"
    fast = logits()
    with force_slow_path():
        assert simba_music.kernel_report("cpu")["ops"]["ssd scan"]["implementation"] == "PyTorch"
        slow = logits()
    for part in fast:
        assert_close(f"public-API decoder logits, {part}", fast[part], slow[part])


@pytest.mark.parametrize("variant", ["prefix_simba", "cross_simba", "prefix_simba_hybrid", "original_simba"])
def test_greedy_generate_gives_the_same_codes_on_both_branches(variant, monkeypatch):
    monkeypatch.setenv("SIMBA_MUSIC_FORCE_FAST", "1")
    layers = 2 if variant == "prefix_simba_hybrid" else 1  # the hybrid's second layer is its attention layer
    model = unit_gain_(SimbaMusicForCausalLM(small_config(variant, num_hidden_layers=layers)).eval())
    start, text = torch.full((2, 1), 64), torch.randn(2, 3, 24)

    def generate():
        return model.generate(start, encoder_hidden_states=text, max_new_tokens=5, do_sample=False,
                              output_scores=True, return_dict_in_generate=True)

    fast = generate()
    with force_slow_path():
        slow = generate()
    assert torch.equal(fast.sequences, slow.sequences)
    fast_scores, slow_scores = torch.stack(fast.scores), torch.stack(slow.scores)
    suppressed = torch.isinf(slow_scores)  # the special id: -inf on both branches
    assert torch.equal(torch.isinf(fast_scores), suppressed)
    assert_close(f"generate {variant} scores", fast_scores[~suppressed], slow_scores[~suppressed])
