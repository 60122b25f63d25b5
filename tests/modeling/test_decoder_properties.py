"""Property tests of the decoder (hypothesis): any valid config builds, runs and round-trips; any invalid one is a
ValueError; cached decoding equals the full forward for any length and batch."""

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM

PATTERNS = [["mamba2", "mlp"], ["mamba2"], ["mamba", "einfft"], ["mamba", "mlp"], ["attention", "mlp"],
            ["mamba2", "cross_attention", "mlp"], ["attention", "cross_attention", "mlp"], ["mamba2", "attention"]]
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def valid_configs(draw):
    pattern = draw(st.sampled_from(PATTERNS))
    heads = draw(st.sampled_from([1, 2, 4]))
    hidden = heads * draw(st.sampled_from([8, 16]))
    layers = draw(st.integers(1, 3))
    ssm = any(k in ("mamba", "mamba2") for k in pattern)
    hybrid = draw(st.lists(st.integers(0, layers - 1), max_size=2, unique=True)) if ssm else []
    return SimbaMusicConfig(
        hidden_size=hidden, num_hidden_layers=layers, block_pattern=pattern, num_attention_heads=heads,
        conditioning="cross_attention" if "cross_attention" in pattern else "prefix", head_dim=hidden // 2,
        state_size=draw(st.sampled_from([4, 8])), n_groups=draw(st.sampled_from([1, 2])) if "mamba2" in pattern else 1,
        chunk_size=draw(st.sampled_from([4, 16])), einfft_num_blocks=4 if hidden % 4 == 0 else 1,
        vocab_size=33, special_token_id=32, text_hidden_size=12, num_codebooks=draw(st.sampled_from([1, 1, 2])),
        hybrid_attention_layers=hybrid, positional=draw(st.sampled_from(["sinusoidal", "none"])),
        final_norm=draw(st.booleans()))


def _inputs(config, batch, length, generator):
    shape = (batch, length) if config.num_codebooks == 1 else (batch, config.num_codebooks, length)
    return (torch.randint(0, 32, shape, generator=generator),
            torch.randn(batch, 3, config.text_hidden_size, generator=generator))


@FAST
@given(config=valid_configs(), batch=st.integers(1, 3), length=st.integers(1, 12))
def test_valid_configs_build_run_and_round_trip(tmp_path_factory, config, batch, length):
    model = SimbaMusicForCausalLM(config).eval()
    ids, text = _inputs(config, batch, length, torch.Generator().manual_seed(length))
    with torch.no_grad():
        logits = model(ids, encoder_hidden_states=text).logits
    assert logits.shape[-2:] == (length, 33) and torch.isfinite(logits).all()
    directory = tmp_path_factory.mktemp("saved")
    model.save_pretrained(directory)
    loaded = SimbaMusicForCausalLM.from_pretrained(directory).eval()
    for (name, saved), (_, restored) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(saved, restored), name
    with torch.no_grad():
        # Bit-identical weights; threaded FFT/matmul reductions may still differ in the last bits.
        torch.testing.assert_close(loaded(ids, encoder_hidden_states=text).logits, logits, atol=1e-6, rtol=1e-6)


@FAST
@given(config=valid_configs().filter(lambda c: c.num_codebooks == 1), batch=st.integers(1, 3),
       length=st.integers(2, 20), prefill=st.integers(1, 19))
def test_cached_decoding_equals_full_forward(config, batch, length, prefill):
    prefill = min(prefill, length - 1)
    model = SimbaMusicForCausalLM(config).eval()
    ids, text = _inputs(config, batch, length, torch.Generator().manual_seed(prefill))
    with torch.no_grad():
        full = model(ids, encoder_hidden_states=text).logits
        out = model(ids[:, :prefill], encoder_hidden_states=text, use_cache=True)
        pieces = [out.logits] + [model(ids[:, t:t + 1], cache=out.cache).logits for t in range(prefill, length)]
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-4, rtol=1e-4)


@settings(max_examples=60, deadline=None)
@given(overrides=st.dictionaries(
    st.sampled_from(["hidden_size", "num_hidden_layers", "state_size", "head_dim", "num_attention_heads", "vocab_size",
                     "special_token_id", "block_pattern", "conditioning", "dropout", "n_groups", "positional",
                     "hybrid_attention_layers", "num_codebooks", "chunk_size"]),
    st.one_of(st.integers(-5, 70), st.floats(-1, 2), st.just(float("nan")), st.text(max_size=6),
              st.lists(st.sampled_from(["mamba", "mamba2", "mlp", "conv", "cross_attention", ""]), max_size=3),
              st.none()), min_size=1, max_size=3))
def test_random_configs_either_build_or_raise_value_error(overrides):
    kwargs = dict(hidden_size=32, num_hidden_layers=2, state_size=8, head_dim=16, num_attention_heads=4,
                  vocab_size=65, special_token_id=64, text_hidden_size=8)
    kwargs.update(overrides)
    try:
        config = SimbaMusicConfig(**kwargs)
    except ValueError:
        return
    assert config.vocab_size == config.special_token_id + 1  # anything accepted is coherent
