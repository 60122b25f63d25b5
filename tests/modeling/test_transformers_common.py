"""transformers' own common model and generation tests (`ModelTesterMixin`, `GenerationTesterMixin`) run against the
decoder, the way transformers' Mamba2 model test runs them.

transformers' tests are not part of its wheel and are not copied here: set SIMBA_MUSIC_TRANSFORMERS_TESTS to a folder
holding the `tests/` folder of the transformers release that is installed (at least `test_modeling_common.py` and
`generation/test_utils.py`); without it this module is skipped. See docs/REFERENCE.md, "transformers' common tests".
"""

import importlib
import os
import sys
import types
import unittest
from pathlib import Path
from unittest import mock

import pytest
from transformers.models.auto import modeling_auto

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM, SimbaMusicModel
from simba_music.modeling.cache import CrossKVState, KVState, SimbaMusicCache, SSMState
from simba_music.modeling.loading import ClearLoadingErrorsMixin

ENVIRONMENT_VARIABLE = "SIMBA_MUSIC_TRANSFORMERS_TESTS"
PACKAGE = "transformers_common_tests"


def _import_transformers_tests():
    """transformers' `tests` package under another name, so that it does not clash with this project's `tests`."""
    root = os.environ.get(ENVIRONMENT_VARIABLE)
    if not root:
        pytest.skip(f"{ENVIRONMENT_VARIABLE} is not set (a folder holding transformers' tests/)",
                    allow_module_level=True)
    folder = Path(root) / "tests" if (Path(root) / "tests").is_dir() else Path(root)
    if not (folder / "test_modeling_common.py").is_file():
        raise FileNotFoundError(f"{ENVIRONMENT_VARIABLE}={root!r}: no test_modeling_common.py in {folder}")
    if PACKAGE not in sys.modules:
        package = types.ModuleType(PACKAGE)
        package.__path__ = [str(folder)]
        sys.modules[PACKAGE] = package
        if not (folder / "exporters" / "test_export.py").is_file():
            # The export mixin (torch.export / ONNX / ExecuTorch backends) is not part of this run when absent.
            exporters = types.ModuleType(f"{PACKAGE}.exporters")
            exporters.__path__ = []
            export = types.ModuleType(f"{PACKAGE}.exporters.test_export")
            export.ExportTesterMixin = type("ExportTesterMixin", (), {})
            sys.modules.update({exporters.__name__: exporters, export.__name__: export})
    common = importlib.import_module(f"{PACKAGE}.test_modeling_common")
    generation = importlib.import_module(f"{PACKAGE}.generation.test_utils")
    return common, generation


common, generation = _import_transformers_tests()


def _loading_not_strict():
    """from_pretrained refuses missing or unexpected weights unless strict=False; these tests read transformers'
    loading report instead, so they run with strict=False (what transformers always does)."""
    strict_loading = ClearLoadingErrorsMixin.__dict__["from_pretrained"].__func__

    def from_pretrained(cls, *args, strict=False, **kwargs):
        return strict_loading(cls, *args, strict=strict, **kwargs)

    return mock.patch.object(ClearLoadingErrorsMixin, "from_pretrained", classmethod(from_pretrained))


class SimbaMusicModelTester:
    """A tiny Prefix SiMBA (Mamba2 mixer, then an MLP, the text as a prefix), as in issue 20; `variant` overrides
    config fields."""

    def __init__(self, parent, variant=None, batch_size=3, seq_length=7, text_length=3, vocab_size=65,
                 hidden_size=32, num_hidden_layers=2, state_size=16, head_dim=16, expand=2, conv_kernel=4):
        self.parent, self.variant, self.text_length = parent, variant or {}, text_length
        self.batch_size, self.seq_length = batch_size, seq_length
        self.vocab_size, self.hidden_size, self.num_hidden_layers = vocab_size, hidden_size, num_hidden_layers
        self.state_size, self.head_dim, self.expand, self.conv_kernel = state_size, head_dim, expand, conv_kernel
        self.is_training = True

    def get_config(self) -> SimbaMusicConfig:
        fields = dict(vocab_size=self.vocab_size, special_token_id=self.vocab_size - 1, hidden_size=self.hidden_size,
                      num_hidden_layers=self.num_hidden_layers, state_size=self.state_size, head_dim=self.head_dim,
                      expand=self.expand, conv_kernel=self.conv_kernel, chunk_size=8, num_attention_heads=4,
                      block_pattern=["mamba2", "mlp"], conditioning="prefix", text_hidden_size=16)
        return SimbaMusicConfig(**{**fields, **self.variant})

    def prepare_config_and_inputs_for_common(self):
        # Codes only: the special id (the last one) is a start/pad marker. The text is a few encoder states.
        input_ids = common.ids_tensor([self.batch_size, self.seq_length], self.vocab_size - 1)
        text = common.floats_tensor([self.batch_size, self.text_length, 16])
        return self.get_config(), {"input_ids": input_ids, "encoder_hidden_states": text}


RESIZE_REASON = ("the special id stays the last row, so the added rows are not last; test_transformers_conventions.py::"
                 "test_resize_adds_codes_before_the_special_id_initialised_as_transformers_does checks them there")


class SimbaMusicCommonTest(common.ModelTesterMixin, generation.GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (SimbaMusicModel, SimbaMusicForCausalLM)
    variant = {}  # config fields over the tester's Prefix SiMBA
    has_attentions = False  # SSM mixers have no attention weights (as transformers' Mamba2)
    # transformers skips this check for models whose configuration file carries no copyright year after 2022.
    test_can_init_all_missing_weights_before_2023 = True

    def setUp(self):
        self.model_tester = SimbaMusicModelTester(self, self.variant)
        # transformers' own models are in its name tables, which the mixins read to know a base model from a causal
        # LM (labels, training); `AutoModel.register` does not add to them.
        model_type = SimbaMusicConfig.model_type
        for table, name in ((modeling_auto.MODEL_MAPPING_NAMES, "SimbaMusicModel"),
                            (modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, "SimbaMusicForCausalLM")):
            patcher = mock.patch.dict(table, {model_type: name})
            patcher.start()
            self.addCleanup(patcher.stop)

    # The project's own choices (docs/REFERENCE.md, "Where the decoder differs from transformers"):

    def test_correct_missing_keys(self):
        with _loading_not_strict():
            super().test_correct_missing_keys()

    def test_can_init_all_missing_weights(self):
        with _loading_not_strict():
            super().test_can_init_all_missing_weights()

    def test_base_model_prefix_loads_base_weights(self):
        with _loading_not_strict():
            super().test_base_model_prefix_loads_base_weights()

    def test_model_weights_reload_no_missing_tied_weights(self):
        with _loading_not_strict():
            super().test_model_weights_reload_no_missing_tied_weights()

    @unittest.skip(RESIZE_REASON)
    def test_resize_tokens_embeddings(self):
        pass

    @unittest.skip(RESIZE_REASON)
    def test_resize_embeddings_untied(self):
        pass

    def _check_past_key_values_for_generate(self, batch_size, past_key_values, seq_length, config):
        """The cache is SimbaMusicCache, not a transformers `Cache`: check it as transformers' Mamba tests checked
        theirs. One fixed-size convolution window and recurrent state per SSM sublayer, whatever the length; keys and
        values per self-attention sublayer, over every position (the text prefix included); the text's keys and
        values per cross-attention sublayer."""
        self.assertIsInstance(past_key_values, SimbaMusicCache)
        inner, n = config.expand * config.hidden_size, config.state_size
        heads, text_length = config.num_attention_heads, self.model_tester.text_length
        head_dim = config.hidden_size // heads
        positions = seq_length + (text_length if config.conditioning == "prefix" else 0)
        expected = {  # sublayer kind -> (state class, {field: shape})
            "mamba2": (SSMState, {"conv_state": (batch_size, inner + 2 * config.n_groups * n, config.conv_kernel),
                                  "ssm_state": (batch_size, inner // config.head_dim, config.head_dim, n)}),
            "mamba": (SSMState, {"conv_state": (batch_size, inner, config.conv_kernel),
                                 "ssm_state": (batch_size, inner, n)}),
            "attention": (KVState, {"keys": (batch_size, heads, positions, head_dim),
                                    "values": (batch_size, heads, positions, head_dim)}),
            "cross_attention": (CrossKVState, {"keys": (batch_size, heads, text_length, head_dim),
                                               "values": (batch_size, heads, text_length, head_dim)}),
        }
        kinds = {f"{layer}.{i}": kind for layer in range(config.num_hidden_layers)
                 for i, kind in enumerate(config.block_pattern) if kind in expected}
        kinds.update({f"{layer}.hybrid": "attention" for layer in config.hybrid_attention_layers})
        self.assertEqual(set(past_key_values.states), set(kinds))
        for key, kind in kinds.items():
            state_class, shapes = expected[kind]
            state = past_key_values.states[key]
            self.assertIsInstance(state, state_class)
            if isinstance(state, KVState):  # a growing buffer, valid up to `length`
                self.assertEqual(state.length, positions)
                state = KVState(state.keys[:, :, :state.length], state.values[:, :, :state.length], state.length)
            for field, shape in shapes.items():
                self.assertEqual(tuple(getattr(state, field).shape), shape, f"{key} ({kind}) {field}")


class HybridSimbaCommonTest(SimbaMusicCommonTest):
    """Prefix SiMBA whose second block runs causal self-attention beside its Mamba2 mixer, gated."""

    variant = dict(hybrid_attention_layers=[1])


class OriginalSimbaCommonTest(SimbaMusicCommonTest):
    """Mamba (selective scan) then the EinFFT channel mixer, as in the SiMBA paper."""

    variant = dict(block_pattern=["mamba", "einfft"], einfft_num_blocks=4)


class TextRequired:
    """Cross-attention conditioning needs the text: without it the first forward raises a ValueError naming
    `encoder_hidden_states` (a prefix model generates unconditionally instead)."""

    @unittest.skip("cross-attention conditioning needs encoder_hidden_states; generate() without them raises a "
                   "ValueError that names them")
    def test_generate_without_input_ids(self):
        pass


class CrossSimbaCommonTest(TextRequired, SimbaMusicCommonTest):
    """Mamba2, cross-attention to the text, then an MLP."""

    variant = dict(block_pattern=["mamba2", "cross_attention", "mlp"], conditioning="cross_attention")


class CrossTransformerCommonTest(TextRequired, SimbaMusicCommonTest):
    """The attention baseline: causal self-attention, cross-attention, MLP."""

    variant = dict(block_pattern=["attention", "cross_attention", "mlp"], conditioning="cross_attention")
