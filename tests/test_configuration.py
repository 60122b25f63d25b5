import pytest

from simba_music import SimbaMusicConfig
from tests.conftest import VARIANTS, tiny_config


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_build_and_round_trip(variant, tmp_path):
    config = tiny_config(variant)
    config.save_pretrained(tmp_path)
    loaded = SimbaMusicConfig.from_pretrained(tmp_path)
    assert loaded.block_pattern == config.block_pattern
    assert loaded.hybrid_attention_layers == config.hybrid_attention_layers
    assert loaded.to_dict() == config.to_dict()


def test_paper_defaults():
    config = SimbaMusicConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.state_size, config.head_dim) == (1024, 24, 512, 64)
    assert config.block_pattern == ["mamba2", "mlp"] and config.conditioning == "prefix"
    assert config.intermediate_size == 2048 and config.vocab_size == 1025 and config.special_token_id == 1024
    assert config.num_ssm_heads == 32 and config.time_step_rank == 64


@pytest.mark.parametrize("overrides,field", [
    (dict(block_pattern=["mamba2", "conv"]), "block_pattern"),
    (dict(block_pattern=[]), "block_pattern"),
    (dict(block_pattern=["mamba2", "cross_attention"], conditioning="prefix"), "block_pattern"),
    (dict(block_pattern=["mamba2", "mlp"], conditioning="cross_attention"), "conditioning"),
    (dict(conditioning="concat"), "conditioning"),
    (dict(head_dim=24), "head_dim"),
    (dict(n_groups=3), "n_groups"),
    (dict(num_attention_heads=5, block_pattern=["attention"]), "num_attention_heads"),
    (dict(hidden_size=-4), "hidden_size"),
    (dict(state_size=0), "state_size"),
    (dict(vocab_size=100), "vocab_size"),
    (dict(special_token_id=70), "special_token_id"),
    (dict(dropout=1.5), "dropout"),
    (dict(positional="rope"), "positional"),
    (dict(hybrid_attention_layers=[5]), "hybrid_attention_layers"),
    (dict(hybrid_attention_layers=[0], block_pattern=["attention", "mlp"]), "hybrid_attention_layers"),
    (dict(block_pattern=["einfft"], einfft_num_blocks=5), "einfft_num_blocks"),
    (dict(num_codebooks=0), "num_codebooks"),
])
def test_invalid_configs_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=rf"SimbaMusicConfig\.{field}"):
        tiny_config("prefix_simba", **overrides)
