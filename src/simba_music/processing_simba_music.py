"""SimbaMusicProcessor: the caption tokenizer plus the codec's feature extractor, saved and loaded with the model."""

from __future__ import annotations

from transformers import EncodecFeatureExtractor, ProcessorMixin


def check_prompts(text) -> list[str]:
    """A caption or a list of captions, each a non-empty string; returns the list."""
    prompts = [text] if isinstance(text, str) else text
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise TypeError(f"text: must be a non-empty string or a non-empty list of strings, got {type(text).__name__}")
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise TypeError(f"text[{index}]: prompts must be strings, got {type(prompt).__name__}")
        if not prompt.strip():
            raise ValueError(f"text[{index}]: prompts must be non-empty strings (use guidance_scale=0 for "
                             "unconditional music), got {prompt!r}")
    return list(prompts)


class SimbaMusicProcessor(ProcessorMixin):
    r"""Tokenizes captions to exactly `text_max_length` tokens (the model's fixed prefix length) and turns audio
    prompts into the codec's `input_values`.

    Args:
        feature_extractor: an `EncodecFeatureExtractor` at the codec's rate and channel count.
        tokenizer: the text encoder's tokenizer.
        text_max_length: caption length in tokens; must equal the model's `config.text_max_length`.
    """

    attributes = ["feature_extractor", "tokenizer"]

    def __init__(self, feature_extractor=None, tokenizer=None, text_max_length: int = 64, **kwargs):
        self.text_max_length = text_max_length
        super().__init__(feature_extractor, tokenizer, **kwargs)

    @classmethod
    def for_model(cls, model, tokenizer) -> "SimbaMusicProcessor":
        """A processor matching `model`'s codec and caption length; also stores the tokenizer's empty caption (the
        unconditional input of classifier-free guidance) and pad id in the model config, so that captions built by
        `generate()` itself are padded as the tokenizer pads."""
        feature_extractor = EncodecFeatureExtractor(feature_size=model.config.audio_channels,
                                                    sampling_rate=model.config.sampling_rate, padding_value=0.0)
        processor = cls(feature_extractor, tokenizer, text_max_length=model.config.text_max_length)
        model.config.empty_caption_ids = processor.empty_caption_ids
        model.config.text_pad_token_id = tokenizer.pad_token_id
        return processor

    @property
    def empty_caption_ids(self) -> list[int]:
        return list(self.tokenizer("")["input_ids"])

    @property
    def sampling_rate(self) -> int:
        return self.feature_extractor.sampling_rate

    def __call__(self, text=None, audio=None, sampling_rate: int | None = None, return_tensors: str | None = "pt",
                 **kwargs):
        if text is None and audio is None:
            raise ValueError("text, audio: give captions, an audio prompt, or both")
        outputs = {}
        if text is not None:
            # No token_type_ids (BERT-style tokenizers add them): one caption is one segment, all zeros, which is
            # the encoders' default; generate() takes captions as input_ids and attention_mask only.
            options = dict(padding="max_length", truncation=True, max_length=self.text_max_length,
                           return_token_type_ids=False)
            options.update(kwargs)
            outputs.update(self.tokenizer(check_prompts(text), return_tensors=return_tensors, **options))
        if audio is not None:
            features = self.feature_extractor(audio, sampling_rate=sampling_rate or self.sampling_rate,
                                              return_tensors=return_tensors)
            outputs["input_values"] = features["input_values"]
            if "padding_mask" in features:
                outputs["padding_mask"] = features["padding_mask"]
        from transformers import BatchEncoding

        return BatchEncoding(outputs)

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)


# Saving then writes `auto_map` and copies this (self-contained) file, for trust_remote_code loading.
SimbaMusicProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["SimbaMusicProcessor", "check_prompts"]
