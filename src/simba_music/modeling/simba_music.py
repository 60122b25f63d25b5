"""SimbaMusicModel and SimbaMusicForCausalLM: the decoder over codec tokens, conditioned on text.

Contract (relied on by the text-to-music model, training and conversion):
- `input_ids`: [B, T] codes, or [B, K, T] when `num_codebooks = K > 1` (the delay pattern is applied inside).
- `encoder_hidden_states`: [B, S, text_hidden_size], projected to the model width and either prepended as a prefix
  or attended to by cross-attention.
- `logits` cover the audio positions only: [B, T, V] (or [B, K, T, V]); `logits[:, t]` predicts `input_ids[:, t + 1]`.
- With a cache, the text is consumed once on the first call; later calls feed only new tokens and cost O(1) per token
  in the SSM layers. With K > 1 and a non-empty cache, inputs are frames of the delayed sequence (one column per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from ..configuration_simba_music import SimbaMusicConfig
from .blocks import RMSNorm, SimbaMusicBlock
from .cache import SimbaMusicCache
from .channel_mixers import CausalEinFFT
from .kernels import warn_if_cuda_without_kernels
from .loading import ClearLoadingErrorsMixin
from .positions import apply_delay_pattern, sinusoidal_positions, undo_delay_pattern
from .ssm import Mamba2Mixer, MambaMixer


@dataclass
class SimbaMusicModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    cache: SimbaMusicCache | None = None


@dataclass
class SimbaMusicCausalLMOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    cache: SimbaMusicCache | None = None
    last_hidden_state: torch.Tensor | None = None


class SimbaMusicPreTrainedModel(ClearLoadingErrorsMixin, PreTrainedModel):
    config: SimbaMusicConfig
    config_class = SimbaMusicConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["SimbaMusicBlock"]
    _supports_sdpa = True
    _is_stateful = True

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, (MambaMixer, Mamba2Mixer)):
            module.reset_ssm_parameters()
        elif isinstance(module, CausalEinFFT):
            for parameter in (module.weight_1, module.bias_1, module.weight_2, module.bias_2):
                init.normal_(parameter, mean=0.0, std=self.config.initializer_range)


class SimbaMusicModel(SimbaMusicPreTrainedModel):
    def __init__(self, config: SimbaMusicConfig):
        super().__init__(config)
        self.embed_tokens = nn.ModuleList(nn.Embedding(config.vocab_size, config.hidden_size)
                                          for _ in range(config.num_codebooks))
        self.text_projection = nn.Linear(config.text_hidden_size, config.hidden_size)
        self.text_norm = nn.LayerNorm(config.hidden_size)
        self.layers = nn.ModuleList(SimbaMusicBlock(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps) if config.final_norm else None
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens[0]

    def set_input_embeddings(self, value):
        self.embed_tokens[0] = value

    def _embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        if input_ids.dim() == 2:
            input_ids = input_ids.unsqueeze(1)
        return sum(embedding(input_ids[:, k]) for k, embedding in enumerate(self.embed_tokens))

    def _text(self, encoder_hidden_states, encoder_attention_mask, dtype):
        if encoder_hidden_states is None:
            return None, None
        if encoder_hidden_states.shape[-1] != self.config.text_hidden_size:
            raise ValueError(f"encoder_hidden_states: last dimension must be text_hidden_size="
                             f"{self.config.text_hidden_size}, got {encoder_hidden_states.shape[-1]}")
        text = self.text_norm(self.text_projection(encoder_hidden_states.to(dtype)))
        mask = encoder_attention_mask if self.config.use_text_mask else None
        return text, mask

    def forward(self, input_ids: torch.LongTensor, encoder_hidden_states: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None, cache: SimbaMusicCache | None = None,
                use_cache: bool | None = None, **kwargs) -> SimbaMusicModelOutput:
        config = self.config
        use_cache = use_cache if use_cache is not None else (cache is not None)
        if self.gradient_checkpointing and self.training:
            use_cache, cache = False, None
        if use_cache and cache is None:
            cache = SimbaMusicCache()
        first_pass = cache is None or cache.is_empty

        hidden_states = self._embed(input_ids)
        warn_if_cuda_without_kernels(hidden_states)
        text_states, text_mask = (self._text(encoder_hidden_states, encoder_attention_mask, hidden_states.dtype)
                                  if first_pass else (None, None))
        prefix_length = 0
        if config.conditioning == "prefix" and text_states is not None:
            if text_mask is not None:
                # Padded caption tokens contribute nothing; their positions still count, as in the original.
                text_states = text_states * text_mask[..., None].to(text_states.dtype)
            prefix_length = text_states.shape[1]
            hidden_states = torch.cat([text_states, hidden_states], dim=1)
            text_states = text_mask = None

        offset = 0 if cache is None else cache.seq_length
        if config.positional == "sinusoidal":
            positions = torch.arange(offset, offset + hidden_states.shape[1], device=hidden_states.device)
            hidden_states = hidden_states + sinusoidal_positions(
                positions, config.hidden_size, dtype=hidden_states.dtype).to(hidden_states.dtype)

        for layer in self.layers:
            hidden_states = layer(hidden_states, cache=cache, text_states=text_states, text_mask=text_mask)
        if self.norm is not None:
            hidden_states = self.norm(hidden_states)

        if cache is not None:
            cache.seq_length += hidden_states.shape[1]
        return SimbaMusicModelOutput(last_hidden_state=hidden_states[:, prefix_length:],
                                     cache=cache if use_cache else None)


class SimbaMusicForCausalLM(SimbaMusicPreTrainedModel, GenerationMixin):
    def __init__(self, config: SimbaMusicConfig):
        super().__init__(config)
        self.model = SimbaMusicModel(config)
        self.lm_head = nn.ModuleList(nn.Linear(config.hidden_size, config.vocab_size, bias=False)
                                     for _ in range(config.num_codebooks))
        self.post_init()
        # The special id is a start/pad marker, never an audio code.
        self.generation_config.suppress_tokens = [config.special_token_id]

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.lm_head[0]

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # SimbaMusicCache is created in `prepare_inputs_for_generation`.

    def forward(self, input_ids: torch.LongTensor, encoder_hidden_states: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None, labels: torch.LongTensor | None = None,
                cache: SimbaMusicCache | None = None, use_cache: bool | None = None,
                attention_mask: torch.Tensor | None = None, return_dict: bool | None = None,
                num_items_in_batch: int | torch.Tensor | None = None, delay_pattern_applied: bool | None = None,
                **kwargs) -> SimbaMusicCausalLMOutput:
        """`attention_mask` is accepted for GenerationMixin and ignored: every code position is real, and padding
        is expressed through `labels = -100`.

        With K > 1 codebooks, `delay_pattern_applied` says whether `input_ids` are frames of the delayed sequence
        (logits then follow the frames) or plain codes (the delay is applied here and undone on the logits). It
        defaults to True when continuing from a non-empty cache, False otherwise."""
        num_codebooks = self.config.num_codebooks
        self._check_input_ids(input_ids)
        if delay_pattern_applied is None:
            delay_pattern_applied = cache is not None and not cache.is_empty
        delay = num_codebooks > 1 and not delay_pattern_applied
        model_input = apply_delay_pattern(input_ids, self.config.special_token_id) if delay else input_ids
        outputs = self.model(model_input, encoder_hidden_states=encoder_hidden_states,
                             encoder_attention_mask=encoder_attention_mask, cache=cache, use_cache=use_cache)
        hidden_states = outputs.last_hidden_state
        if num_codebooks == 1:
            logits = self.lm_head[0](hidden_states)
        else:
            logits = torch.stack([head(hidden_states) for head in self.lm_head], dim=1)
            if delay:
                logits = undo_delay_pattern(logits, input_ids.shape[-1])

        # Half-precision logits are upcast for the loss and for sampling; float64 stays float64.
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        loss = self.loss_function(logits, labels, num_items_in_batch) if labels is not None else None
        return SimbaMusicCausalLMOutput(loss=loss, logits=logits, cache=outputs.cache, last_hidden_state=hidden_states)

    def _check_input_ids(self, input_ids: torch.Tensor) -> None:
        expected_dim = 2 if self.config.num_codebooks == 1 else 3
        if input_ids.dim() != expected_dim or (expected_dim == 3 and input_ids.shape[1] != self.config.num_codebooks):
            shape = "[batch, length]" if expected_dim == 2 else f"[batch, {self.config.num_codebooks}, length]"
            raise ValueError(f"input_ids: expected shape {shape}, got {list(input_ids.shape)}")

    def loss_function(self, logits: torch.Tensor, labels: torch.Tensor,
                      num_items_in_batch: int | torch.Tensor | None = None, **_) -> torch.Tensor:
        """Next-token cross-entropy. Labels are the codes themselves (shifted here); -100 and the special id are
        ignored. With `num_items_in_batch` (gradient accumulation in Trainer) the sum is divided by it."""
        labels = labels.to(logits.device).masked_fill(labels == self.config.special_token_id, -100)
        shift_logits = logits[..., :-1, :].reshape(-1, logits.shape[-1])
        shift_labels = labels[..., 1:].reshape(-1)
        reduction = "sum" if num_items_in_batch is not None else "mean"
        loss = F.cross_entropy(shift_logits, shift_labels, ignore_index=-100, reduction=reduction,
                               label_smoothing=self.config.label_smoothing)
        if num_items_in_batch is not None:
            loss = loss / torch.as_tensor(num_items_in_batch, device=loss.device)
        return loss

    def prepare_inputs_for_generation(self, input_ids, cache=None, use_cache=None, encoder_hidden_states=None,
                                      encoder_attention_mask=None, is_first_iteration=False, **kwargs):
        if self.config.num_codebooks > 1:
            raise ValueError("generate(): num_codebooks > 1 needs the delay-pattern sampler of "
                             "SimbaMusicForConditionalGeneration; GenerationMixin handles num_codebooks=1")
        use_cache = True if use_cache is None else use_cache
        if use_cache and cache is None:
            cache = SimbaMusicCache()
        if use_cache and not cache.is_empty:
            # The text and every earlier token live in the cache: feed the newest token only.
            input_ids = input_ids[:, -1:]
        return {"input_ids": input_ids, "cache": cache if use_cache else None, "use_cache": use_cache,
                "encoder_hidden_states": encoder_hidden_states, "encoder_attention_mask": encoder_attention_mask}
