"""SimbaMusicForConditionalGeneration: frozen text encoder + SimbaMusic decoder + neural audio codec.

The MusicGen composite pattern: the three sub-models live under `text_encoder.*`, `audio_encoder.*` and `decoder.*` in
one state dict (one safetensors file) and their configs in one `config.json`. Sampling lives in
`sampling.py`; this file is construction, loading, text encoding and the training forward.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from transformers import AutoModel, AutoModelForTextEncoding, PreTrainedModel

from .audio_codec import AudioCodec
from .configuration_simba_music import SimbaMusicForConditionalGenerationConfig
from .decoder import SimbaMusicCausalLMOutput, SimbaMusicForCausalLM
from .hub import AUTO_MAP, bundle_remote_code, model_card
from .loading import ClearLoadingErrorsMixin
from .sampling import TextToMusicGenerationMixin, default_generation_config


class SimbaMusicForConditionalGeneration(ClearLoadingErrorsMixin, TextToMusicGenerationMixin, PreTrainedModel):
    config: SimbaMusicForConditionalGenerationConfig
    config_class = SimbaMusicForConditionalGenerationConfig
    base_model_prefix = "text_to_music"
    main_input_name = "input_ids"
    output_modalities = ("audio",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: SimbaMusicForConditionalGenerationConfig | None = None,
                 text_encoder: PreTrainedModel | None = None, audio_encoder: PreTrainedModel | None = None,
                 decoder: SimbaMusicForCausalLM | None = None):
        # Given sub-models share their config objects with the composite config, whose creation and __init__ reset
        # their attention setting: remember what each sub-model was built with.
        given = {"text_encoder": text_encoder, "audio_encoder": audio_encoder, "decoder": decoder}
        implementations = {name: model.config._attn_implementation for name, model in given.items() if model}
        if config is None:
            if text_encoder is None or audio_encoder is None or decoder is None:
                raise ValueError("SimbaMusicForConditionalGeneration: give either `config` or all three of "
                                 "`text_encoder`, `audio_encoder` and `decoder`")
            config = SimbaMusicForConditionalGenerationConfig(
                text_encoder=text_encoder.config, audio_encoder=audio_encoder.config, decoder=decoder.config)
        elif getattr(config, "model_type", None) != SimbaMusicForConditionalGenerationConfig.model_type:
            # Compared by model_type, not class: trust_remote_code loads the config class from another module copy.
            raise TypeError(f"config: must be a SimbaMusicForConditionalGenerationConfig, got {type(config).__name__}")
        super().__init__(config)

        self.text_encoder = text_encoder or AutoModelForTextEncoding.from_config(config.text_encoder)
        self.audio_encoder = audio_encoder or AutoModel.from_config(config.audio_encoder)
        self.decoder = decoder or SimbaMusicForCausalLM._from_config(config.decoder)
        if getattr(self.text_encoder, "pooler", None) is not None:
            self.text_encoder.pooler = None  # BERT-style pooler: unused (we take last_hidden_state), not saved
        if self.text_encoder.get_output_embeddings() is not None:
            raise ValueError(f"text_encoder: must be an encoder without a language-model head, got "
                             f"{type(self.text_encoder).__name__} (use e.g. T5EncoderModel or BertModel)")
        # One config object per sub-model, shared with the composite, so edits stay in sync when saving.
        for name in ("text_encoder", "audio_encoder", "decoder"):
            sub_config = getattr(config, name)
            sub_config._attn_implementation = (implementations.get(name)
                                               or getattr(self, name).config._attn_implementation)
            getattr(self, name).config = sub_config
        self.codec = AudioCodec(self.audio_encoder, config.decoder.num_codebooks)  # validates num_codebooks
        self.post_init()
        for name in self._sourced_sub_models():
            # Those weights are not in our safetensors: `from_pretrained` fills them from the source afterwards.
            self._keys_to_ignore_on_load_missing.add(rf"^{name}\.")
        self._freeze_conditioning()
        # Paper sampling defaults; from_pretrained replaces them with a saved generation_config.json if present.
        self.generation_config = default_generation_config(config.frame_rate)

    def _freeze_conditioning(self) -> None:
        # The text encoder and the codec are pretrained and fixed (as in the paper): only the decoder trains.
        for module in (self.text_encoder, self.audio_encoder):
            module.requires_grad_(False)
            module.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.text_encoder.eval()
        self.audio_encoder.eval()
        return self

    def _init_weights(self, module):
        # Sub-models initialise themselves (PreTrainedModel dispatches to each sub-model's own `_init_weights`);
        # the composite adds no parameters of its own.
        pass

    def get_input_embeddings(self):
        return self.text_encoder.get_input_embeddings()

    def get_output_embeddings(self):
        return self.decoder.get_output_embeddings()

    @property
    def sampling_rate(self) -> int:
        return self.config.sampling_rate

    @property
    def frame_rate(self) -> float:
        return self.config.frame_rate

    @classmethod
    def from_sub_models_pretrained(cls, text_encoder_pretrained_model_name_or_path: str | None = None,
                                   audio_encoder_pretrained_model_name_or_path: str | None = None,
                                   decoder_pretrained_model_name_or_path: str | None = None,
                                   **kwargs) -> SimbaMusicForConditionalGeneration:
        """Assemble the composite from three separately saved models (local folders or Hub ids).

        Keyword arguments prefixed with `text_encoder_`, `audio_encoder_` or `decoder_` go to that sub-model's
        `from_pretrained`; `text_encoder_model=` etc. pass ready instances instead. Others go to all three."""
        sources = {"text_encoder": text_encoder_pretrained_model_name_or_path,
                   "audio_encoder": audio_encoder_pretrained_model_name_or_path,
                   "decoder": decoder_pretrained_model_name_or_path}
        per_model = {name: {} for name in sources}
        shared = {}
        for key, value in kwargs.items():
            name = next((n for n in sources if key.startswith(n + "_")), None)
            if name is None:
                shared[key] = value
            else:
                per_model[name][key[len(name) + 1:]] = value
        models = {}
        for name, source in sources.items():
            options = {**shared, **per_model[name]}
            model = options.pop("model", None)
            if model is None:
                if source is None:
                    raise ValueError(f"{name}_pretrained_model_name_or_path: required when no `{name}_model` "
                                     "instance is given")
                if name == "decoder":
                    model = SimbaMusicForCausalLM.from_pretrained(source, **options)
                elif name == "text_encoder":
                    model = AutoModelForTextEncoding.from_pretrained(source, **options)
                else:
                    model = AutoModel.from_pretrained(source, **options)
            models[name] = model
        return cls(**models).eval()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        for name in model._sourced_sub_models():
            model.load_sub_model_from_source(name)
        model._load_saved_generation_config(pretrained_model_name_or_path, kwargs)
        return model

    def _load_saved_generation_config(self, pretrained_model_name_or_path, kwargs: dict) -> None:
        # transformers loads generation_config.json only for models with GenerationMixin's `adjust_generation_fn`;
        # our sampling loop is our own, so without this a saved guidance scale or temperature was silently dropped.
        from transformers import GenerationConfig

        hub = {k: kwargs[k] for k in ("cache_dir", "force_download", "local_files_only", "token", "revision",
                                      "subfolder") if k in kwargs}
        from transformers.utils import GENERATION_CONFIG_NAME, cached_file

        found = cached_file(pretrained_model_name_or_path, GENERATION_CONFIG_NAME,
                            _raise_exceptions_for_missing_entries=False,
                            _raise_exceptions_for_connection_errors=False, **hub)
        if found is None:
            return  # no generation_config.json: keep the paper defaults set in __init__
        try:
            self.generation_config = GenerationConfig.from_pretrained(pretrained_model_name_or_path, **hub)
        except (OSError, ValueError) as error:  # a saved file that does not parse must not silently become defaults
            raise ValueError(f"{found}: not a valid generation config ({error})") from error

    def _sourced_sub_models(self) -> list[str]:
        """The sub-models whose weights come from `config.<name>_source` rather than the model's safetensors."""
        return [name for name in ("text_encoder", "audio_encoder") if getattr(self.config, f"{name}_source", None)]

    def load_sub_model_from_source(self, name: str) -> None:
        """Load the weights of the frozen sub-model `name` ("text_encoder" or "audio_encoder") from
        `config.<name>_source` (see the config)."""
        option = f"{name}_source"
        declared = getattr(self.config, option)
        source = resolve_sub_model_source(declared, option)
        module = getattr(self, name)
        auto_class = AutoModelForTextEncoding if name == "text_encoder" else AutoModel
        try:
            loaded = auto_class.from_pretrained(source, dtype=next(module.parameters()).dtype)
        except OSError as error:
            raise OSError(f"{option}={declared!r}: cannot load the {name} from {source!r}: {error}") from error
        missing, unexpected = module.load_state_dict(loaded.state_dict(), strict=False)
        unexpected = [key for key in unexpected if not key.startswith("pooler.")]  # we drop BERT's pooler
        if missing or unexpected:
            raise ValueError(f"{option}={declared!r} does not fit the model's {name}: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")
        module.to(self.device)

    def save_pretrained(self, save_directory: str | os.PathLike, *args, **kwargs):
        """As PreTrainedModel.save_pretrained, plus `auto_map` for every auto class the model serves
        (`register_for_auto_class` records only one) and the code it names, so that `trust_remote_code=True`
        loading works without simba-music installed. With `config.text_encoder_source` (or `audio_encoder_source`)
        set, that sub-model's weights are left out: they are loaded from that source."""
        self.config.auto_map = dict(AUTO_MAP)
        sourced = tuple(f"{name}." for name in self._sourced_sub_models())
        if sourced and kwargs.get("state_dict") is None:
            kwargs["state_dict"] = {name: tensor for name, tensor in self.state_dict().items()
                                    if not name.startswith(sourced)}
        result = super().save_pretrained(save_directory, *args, **kwargs)
        bundle_remote_code(save_directory)
        return result

    def push_to_hub(self, repo_id: str, *, processor=None, commit_message: str | None = None,
                    commit_description: str | None = None, private: bool | None = None, token: bool | str | None = None,
                    revision: str | None = None, create_pr: bool = False, max_shard_size: int | str = "50GB",
                    tags: list[str] | None = None):
        """Upload the model (and `processor`, if given) with a generated model card as README.md, in one commit.
        An existing README.md on the Hub is replaced."""
        from transformers.utils import hub  # looked up at call time, so a patched `hub.hf_api` is honoured

        repo_id = hub.hf_api().create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as directory:
            self.save_pretrained(directory, max_shard_size=max_shard_size)
            if processor is not None:
                processor.save_pretrained(directory)
            Path(directory, "README.md").write_text(model_card(self, repo_id, tags), encoding="utf-8")
            return self._upload_modified_files(directory, repo_id, files_timestamps={},
                                               commit_message=commit_message or "Upload SimbaMusic text-to-music model",
                                               token=token, create_pr=create_pr, revision=revision,
                                               commit_description=commit_description)

    @torch.no_grad()
    def encode_text(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Caption token ids [B, S] -> the frozen encoder's last hidden state [B, S, text_hidden_size]."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self.text_encoder(input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device))
        return outputs.last_hidden_state

    def forward(self, input_ids: torch.LongTensor | None = None, attention_mask: torch.Tensor | None = None,
                decoder_input_ids: torch.LongTensor | None = None, labels: torch.LongTensor | None = None,
                encoder_outputs: torch.Tensor | None = None, return_dict: bool | None = None,
                **kwargs) -> SimbaMusicCausalLMOutput | tuple:
        """Teacher-forced decoder pass for training: captions (`input_ids`, or precomputed `encoder_outputs`) and
        codec codes `decoder_input_ids` ([B, T] or [B, K, T], starting with the special id). `labels` default to the
        decoder inputs (the decoder shifts them and ignores the special id). `output_hidden_states=True` returns the
        decoder's; `return_dict` defaults to this model's `config.return_dict`."""
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if decoder_input_ids is None:
            decoder_input_ids = labels
        if decoder_input_ids is None:
            raise ValueError("forward(): decoder_input_ids (codec codes) or labels are required")
        if encoder_outputs is None:
            if input_ids is None:
                raise ValueError("forward(): input_ids (caption token ids) or encoder_outputs are required")
            encoder_outputs = self.encode_text(input_ids, attention_mask)
        elif not isinstance(encoder_outputs, torch.Tensor):
            encoder_outputs = encoder_outputs[0]
        return self.decoder(input_ids=decoder_input_ids, encoder_hidden_states=encoder_outputs,
                            encoder_attention_mask=attention_mask, labels=labels, return_dict=return_dict, **kwargs)


def resolve_sub_model_source(source: str, option: str = "text_encoder_source") -> str:
    """`python:<module>/<subfolder>` -> that folder inside the installed package; anything else is returned as is
    (a local folder or a Hub id, for `from_pretrained`). `option` names the config field in errors."""
    if not source.startswith("python:"):
        return source
    import importlib.util

    module, _, subfolder = source[len("python:"):].partition("/")
    spec = importlib.util.find_spec(module) if module.isidentifier() else None
    if spec is None or spec.origin is None:
        raise OSError(f"{option}={source!r}: the Python package {module!r} is not installed "
                      f"(pip install {module.replace('_', '-')})")
    return str(Path(spec.origin).parent / subfolder)


__all__ = ["SimbaMusicForConditionalGeneration", "resolve_sub_model_source"]
