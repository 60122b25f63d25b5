"""SimbaMusicProcessor: the caption tokenizer plus the codec's feature extractor, saved and loaded with the model."""

from __future__ import annotations

import unicodedata
import warnings
from pathlib import Path

from transformers import EncodecFeatureExtractor, ProcessorMixin


def _visible(prompt: str) -> str:
    # Control characters (NUL), format characters (zero-width space, joiners) and separators print as nothing.
    return "".join(c for c in prompt if unicodedata.category(c)[0] not in "CZ")


def check_prompts(text) -> list[str]:
    """A caption or a list of captions, each a non-empty string; returns the list."""
    prompts = [text] if isinstance(text, str) else text
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise TypeError(f"text: must be a non-empty string or a non-empty list of strings, got {type(text).__name__}")
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise TypeError(f"text[{index}]: prompts must be strings, got {type(prompt).__name__}")
        if not _visible(prompt):
            raise ValueError(f"text[{index}]: prompts must be non-empty strings (use guidance_scale=0 for "
                             f"unconditional music), got {prompt!r}")
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError as error:
            # A byte the terminal's encoding could not decode reaches Python as a lone surrogate (U+DC80..U+DCFF),
            # which no tokenizer accepts: refused here, before the model loads.
            raise ValueError(f"text[{index}]: the prompt holds {prompt[error.start]!r} at character {error.start}, "
                             "which is not text: a byte that is not UTF-8 (check the terminal's encoding, e.g. "
                             "LC_ALL=C.UTF-8) or a lone surrogate; write the prompt in UTF-8") from None
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
    def for_model(cls, model, tokenizer) -> SimbaMusicProcessor:
        """A processor matching `model`'s codec and caption length; also stores the tokenizer's empty caption (the
        unconditional input of classifier-free guidance) and pad id in the model config, so that captions built by
        `generate()` itself are padded as the tokenizer pads."""
        feature_extractor = EncodecFeatureExtractor(feature_size=model.config.audio_channels,
                                                    sampling_rate=model.config.sampling_rate, padding_value=0.0)
        processor = cls(feature_extractor, tokenizer, text_max_length=model.config.text_max_length)
        model.config.empty_caption_ids = processor.empty_caption_ids
        model.config.text_pad_token_id = tokenizer.pad_token_id
        return processor

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """As ProcessorMixin.from_pretrained; a model config saved beside the processor sets `text_max_length` (the
        model's fixed prefix length wins over a processor saved with another value, which would cut captions)."""
        processor = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        import json

        from transformers.utils import CONFIG_NAME, cached_file

        # The JSON itself, not AutoConfig: that would ask to run the folder's code under trust_remote_code.
        hub = {k: kwargs[k] for k in ("cache_dir", "local_files_only", "token", "revision", "subfolder") if k in kwargs}
        found = cached_file(pretrained_model_name_or_path, CONFIG_NAME, _raise_exceptions_for_missing_entries=False,
                            _raise_exceptions_for_connection_errors=False, **hub)
        try:
            length = json.loads(Path(found).read_text()).get("text_max_length") if found else None
        except (OSError, ValueError, AttributeError):
            length = None  # a processor saved on its own, or a config the model loader will report
        if length is not None and length != processor.text_max_length:
            warnings.warn(f"text_max_length: the processor says {processor.text_max_length} but the model in "
                          f"{str(pretrained_model_name_or_path)!r} says {length}; using the model's {length}",
                          stacklevel=2)
            processor.text_max_length = length
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
            prompts = check_prompts(text)
            self._check_tokens(prompts, options["max_length"])
            outputs.update(self.tokenizer(prompts, return_tensors=return_tensors, **options))
        if audio is not None:
            features = self.feature_extractor(audio, sampling_rate=sampling_rate or self.sampling_rate,
                                              return_tensors=return_tensors)
            outputs["input_values"] = features["input_values"]
            if "padding_mask" in features:
                outputs["padding_mask"] = features["padding_mask"]
        from transformers import BatchEncoding

        return BatchEncoding(outputs)

    def _check_tokens(self, prompts: list[str], max_length: int | None) -> None:
        """A prompt that tokenises to nothing (the tokenizer drops every character) would silently become the empty
        caption, i.e. unconditional music: refused like an empty prompt. A prompt cut to `max_length` is warned
        about once, with the number of tokens kept."""
        token_ids = self.tokenizer(prompts, truncation=False, verbose=False)["input_ids"]
        for index, (prompt, ids) in enumerate(zip(prompts, token_ids, strict=True)):
            if not _visible(self.tokenizer.decode(ids, skip_special_tokens=True)):  # unknown tokens are special
                raise ValueError(f"text[{index}]: the prompt {prompt[:40]!r} tokenises to nothing the text encoder "
                                 "knows; prompts must be non-empty strings (use guidance_scale=0 for unconditional "
                                 "music)")
        cut = [(index, len(ids)) for index, ids in enumerate(token_ids)
               if max_length is not None and len(ids) > max_length]
        if cut:
            shown = ", ".join(f"text[{index}] has {count}" for index, count in cut[:3])
            warnings.warn(f"text: {len(cut)} prompt(s) longer than text_max_length={max_length} tokens ({shown}); "
                          f"only the first {max_length} tokens are kept", stacklevel=3)

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)


# Saving then writes `auto_map` and copies this (self-contained) file, for trust_remote_code loading.
SimbaMusicProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["SimbaMusicProcessor", "check_prompts"]
