"""Causality of every sublayer kind, and cached decoding equal to the full forward for every variant."""

import pytest
import torch

from simba_music import SimbaMusicForCausalLM
from simba_music.modeling.blocks import SUBLAYER_CLASSES
from simba_music.modeling.cache import SimbaMusicCache
from tests.conftest import VARIANTS, tiny_config


def _model(variant, **overrides):
    return SimbaMusicForCausalLM(tiny_config(variant, **overrides)).eval()


@pytest.mark.parametrize("kind", sorted(SUBLAYER_CLASSES))
def test_every_sublayer_is_causal(kind):
    conditioning = "cross_attention" if kind == "cross_attention" else "prefix"
    config = tiny_config(block_pattern=[kind], conditioning=conditioning)
    op = SUBLAYER_CLASSES[kind](config, "0.0").eval()
    with torch.no_grad():
        for parameter in op.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)  # make every path matter
    x = torch.randn(2, 23, 32)
    text = torch.randn(2, 5, 32)
    t = 11
    perturbed = x.clone()
    perturbed[:, t] += torch.randn(2, 32) * 3
    with torch.no_grad():
        out, out_perturbed = op(x, text_states=text), op(perturbed, text_states=text)
    torch.testing.assert_close(out[:, :t], out_perturbed[:, :t], atol=1e-6, rtol=0)
    assert (out[:, t] - out_perturbed[:, t]).abs().max() > 1e-4  # the perturbation is seen where it happens


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_model_is_causal(variant):
    model = _model(variant)
    ids = torch.randint(0, 64, (2, 30))
    text = torch.randn(2, 6, 24)
    changed = ids.clone()
    changed[:, 17] = (changed[:, 17] + 1) % 64
    with torch.no_grad():
        a = model(ids, encoder_hidden_states=text).logits
        b = model(changed, encoder_hidden_states=text).logits
    torch.testing.assert_close(a[:, :17], b[:, :17], atol=1e-6, rtol=0)
    assert (a[:, 17] - b[:, 17]).abs().max() > 1e-5


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("prefill", [1, 9])
def test_cached_decoding_equals_full_forward(variant, prefill):
    model = _model(variant, chunk_size=4)
    ids = torch.randint(0, 64, (3, 21))
    text = torch.randn(3, 7, 24)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 5:] = 0
    with torch.no_grad():
        full = model(ids, encoder_hidden_states=text, encoder_attention_mask=mask).logits
        out = model(ids[:, :prefill], encoder_hidden_states=text, encoder_attention_mask=mask, use_cache=True)
        cache, pieces = out.cache, [out.logits]
        # Decode steps read the text from the cache: pass none.
        for t in range(prefill, 21):
            pieces.append(model(ids[:, t:t + 1], cache=cache).logits)
    assert cache.seq_length == 21 + (7 if model.config.conditioning == "prefix" else 0)
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-4, rtol=1e-4)


def test_multi_token_continuation_from_cache():
    model = _model("prefix_simba_hybrid", chunk_size=4)
    ids, text = torch.randint(0, 64, (2, 20)), torch.randn(2, 4, 24)
    with torch.no_grad():
        full = model(ids, encoder_hidden_states=text).logits
        first = model(ids[:, :6], encoder_hidden_states=text, use_cache=True)
        second = model(ids[:, 6:], cache=first.cache)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), full, atol=1e-4, rtol=1e-4)


def test_delay_pattern_codebooks_step_equals_full():
    model = _model("prefix_simba", num_codebooks=3)
    codes, text = torch.randint(0, 64, (2, 3, 10)), torch.randn(2, 4, 24)
    from simba_music.modeling.delay_pattern import apply_delay_pattern, undo_delay_pattern
    with torch.no_grad():
        full = model(codes, encoder_hidden_states=text, labels=codes)
        delayed = apply_delay_pattern(codes, 64)
        out = model(delayed[..., :1], encoder_hidden_states=text, use_cache=True, delay_pattern_applied=True)
        cache, pieces = out.cache, [out.logits]
        for s in range(1, delayed.shape[-1]):
            pieces.append(model(delayed[..., s:s + 1], cache=cache).logits)
    assert full.logits.shape == (2, 3, 10, 65)
    stepped = undo_delay_pattern(torch.cat(pieces, 2), 10)
    torch.testing.assert_close(stepped, full.logits, atol=1e-4, rtol=1e-4)
    assert torch.isfinite(full.loss)


@pytest.mark.parametrize("variant", ["prefix_simba", "cross_simba"])
def test_generate_is_cached_and_matches_greedy_full_forward(variant):
    model = _model(variant)
    text = torch.randn(2, 5, 24)
    seen_lengths = []
    hook = model.model.register_forward_pre_hook(lambda m, args, kwargs: seen_lengths.append(args[0].shape[-1]),
                                                 with_kwargs=True)
    start = torch.full((2, 1), 64)
    with torch.no_grad():
        generated = model.generate(start, encoder_hidden_states=text, max_new_tokens=12, do_sample=False)
    hook.remove()
    assert generated.shape == (2, 13)
    assert seen_lengths == [1] * 12  # the prompt once, then one token per step: no re-run of the prefix
    assert (generated[:, 1:] != 64).all()  # the special id is never generated
    with torch.no_grad():
        logits = model(generated, encoder_hidden_states=text).logits
    logits[..., 64] = float("-inf")
    torch.testing.assert_close(logits[:, :-1].argmax(-1), generated[:, 1:])


def test_cache_reorder_selects_rows():
    model = _model("cross_transformer")
    ids, text = torch.randint(0, 64, (3, 8)), torch.randn(3, 5, 24)
    with torch.no_grad():
        cache = model(ids, encoder_hidden_states=text, use_cache=True).cache
        cache.reorder_cache(torch.tensor([2, 0]))
        step = model(ids[[2, 0], :1], cache=cache).logits
        full = model(torch.cat([ids[[2, 0]], ids[[2, 0], :1]], 1), encoder_hidden_states=text[[2, 0]]).logits
    torch.testing.assert_close(step[:, 0], full[:, -1], atol=1e-4, rtol=1e-4)
    assert isinstance(cache, SimbaMusicCache)
