"""SimbaMusicModel and SimbaMusicForCausalLM: the decoder over codec tokens, conditioned on text.

Contract (relied on by the text-to-music model, training and conversion):
- `input_ids`: [B, T] codes, or [B, K, T] when `num_codebooks = K > 1` (the delay pattern is applied inside).
- `encoder_hidden_states`: [B, S, text_hidden_size], projected to the model width and either prepended as a prefix
  or attended to by cross-attention.
- `logits` cover the audio positions only: [B, T, V] (or [B, K, T, V]); `logits[:, t]` predicts `input_ids[:, t + 1]`.
- With a cache, the text is consumed once on the first call; later calls feed only new tokens and cost O(1) per token
  in the SSM layers. With K > 1 and a non-empty cache, inputs are frames of the delayed sequence (one column per step).
- transformers conventions: `output_hidden_states` (the embeddings plus every block's output, audio positions only),
  `return_dict=False` (tuples), `resize_token_embeddings` (every codebook; the special id stays the last id).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .blocks import RMSNorm, SimbaMusicBlock
from .cache import SimbaMusicCache
from .channel_mixers import CausalEinFFT
from .configuration_simba_music import SimbaMusicConfig
from .delay_pattern import apply_delay_pattern, undo_delay_pattern
from .kernels import warn_if_cuda_without_kernels
from .linear import Linear
from .loading import ClearLoadingErrorsMixin
from .positions import sinusoidal_positions
from .ssm import Mamba2Mixer, MambaMixer
from .threads import threads_fitted_to_machine


@dataclass
class SimbaMusicModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    cache: SimbaMusicCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings, then each block ([-1] == last_hidden_state)


@dataclass
class SimbaMusicCausalLMOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    cache: SimbaMusicCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    last_hidden_state: torch.Tensor | None = None


def _split_off_prefix(hidden_states: torch.Tensor, prefix_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(states for the next block, their audio positions). With a text prefix the two parts are joined again, so
    that the recorded audio states are tensors of the graph, as transformers' hidden states are (`retain_grad()`
    on them works)."""
    if not prefix_length:
        return hidden_states, hidden_states
    prefix, audio = hidden_states.split([prefix_length, hidden_states.shape[1] - prefix_length], dim=1)
    return torch.cat([prefix, audio], dim=1), audio


def _check_codebook(config: SimbaMusicConfig, codebook: int) -> int:
    if isinstance(codebook, bool) or not isinstance(codebook, int) or not 0 <= codebook < config.num_codebooks:
        raise ValueError(f"codebook: must be an integer in [0, num_codebooks={config.num_codebooks}), got {codebook!r}")
    return codebook


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

    def _resize_token_embeddings(self, new_num_tokens, pad_to_multiple_of=None, mean_resizing=True):
        """Resize the embeddings and LM heads of every codebook. Codes keep their rows (the last ones are dropped
        when shrinking; added ones are initialised as transformers does); the special id moves to the new last id,
        keeping its learned row, and the config and generation config follow it."""
        config = self.config
        if new_num_tokens is None:
            new_num_tokens = config.vocab_size
        if pad_to_multiple_of is not None:
            if (isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int)
                    or pad_to_multiple_of < 1):
                raise ValueError(f"pad_to_multiple_of: must be a positive integer, got {pad_to_multiple_of!r}")
            new_num_tokens = -(-new_num_tokens // pad_to_multiple_of) * pad_to_multiple_of
        if isinstance(new_num_tokens, bool) or not isinstance(new_num_tokens, int) or new_num_tokens < 2:
            raise ValueError(f"new_num_tokens: must be an integer >= 2 (at least one code plus the special id), "
                             f"got {new_num_tokens!r}")
        modules = list(self.base_model.embed_tokens) + list(getattr(self, "lm_head", []))
        for module in modules:
            weight = module.weight
            resized = nn.Parameter(self._resized_rows(weight.detach(), new_num_tokens, mean_resizing),
                                   requires_grad=weight.requires_grad)
            module.weight = resized
            if isinstance(module, nn.Embedding):
                module.num_embeddings = new_num_tokens
            else:
                module.out_features = new_num_tokens
        old_special, new_special = config.special_token_id, new_num_tokens - 1
        config.special_token_id = new_special
        generation_config = getattr(self, "generation_config", None)  # SimbaMusicModel cannot generate
        for holder in (config, generation_config):
            for name in ("bos_token_id", "pad_token_id", "decoder_start_token_id"):
                if getattr(holder, name, None) == old_special:
                    setattr(holder, name, new_special)
        if generation_config is not None and generation_config.suppress_tokens == [old_special]:
            generation_config.suppress_tokens = [new_special]
        return self.get_input_embeddings()

    def _resized_rows(self, weight: torch.Tensor, new_num_tokens: int, mean_resizing: bool) -> torch.Tensor:
        """[V, H] rows of codes then the special id -> [new_num_tokens, H], the special row last."""
        codes = nn.Embedding.from_pretrained(weight[:-1].clone(), freeze=False)
        codes = self._get_resized_embeddings(codes, new_num_tokens - 1, mean_resizing=mean_resizing)
        return torch.cat([codes.weight.detach(), weight[-1:]])


class SimbaMusicModel(SimbaMusicPreTrainedModel):
    def __init__(self, config: SimbaMusicConfig):
        super().__init__(config)
        self.embed_tokens = nn.ModuleList(nn.Embedding(config.vocab_size, config.hidden_size)
                                          for _ in range(config.num_codebooks))
        self.text_projection = Linear(config.text_hidden_size, config.hidden_size)
        self.text_norm = nn.LayerNorm(config.hidden_size)
        self.layers = nn.ModuleList(SimbaMusicBlock(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps) if config.final_norm else None
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self, codebook: int = 0) -> nn.Embedding:
        return self.embed_tokens[_check_codebook(self.config, codebook)]

    def set_input_embeddings(self, value: nn.Embedding, codebook: int = 0):
        self.embed_tokens[_check_codebook(self.config, codebook)] = value

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
                use_cache: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, audio_positions_from: int | None = None,
                **kwargs) -> SimbaMusicModelOutput | tuple:
        """`audio_positions_from`: the position of the first audio token of this call (default: right after the
        cache and the text prefix); a live stream primes a new row with recent codes at the positions they had."""
        # Fewer threads while other processes hold cores: the many small ops of the SSM path collapse otherwise.
        with threads_fitted_to_machine(input_ids.device):
            return self._forward(input_ids, encoder_hidden_states, encoder_attention_mask, cache, use_cache,
                                 output_hidden_states, return_dict, audio_positions_from)

    def _forward(self, input_ids, encoder_hidden_states, encoder_attention_mask, cache, use_cache,
                 output_hidden_states, return_dict, audio_positions_from=None):
        config = self.config
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else config.output_hidden_states)
        return_dict = return_dict if return_dict is not None else config.return_dict
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
            if audio_positions_from is not None:
                positions[prefix_length:] = positions[prefix_length:] - positions[prefix_length] + audio_positions_from
            hidden_states = hidden_states + sinusoidal_positions(
                positions, config.hidden_size, dtype=hidden_states.dtype).to(hidden_states.dtype)

        # As in transformers' decoders: the input of every block, then the final (normed) output.
        all_hidden_states = [] if output_hidden_states else None
        for layer in self.layers:
            if output_hidden_states:
                hidden_states, audio_states = _split_off_prefix(hidden_states, prefix_length)
                all_hidden_states.append(audio_states)
            hidden_states = layer(hidden_states, text_states, text_mask, cache=cache)
        if self.norm is not None:
            hidden_states = self.norm(hidden_states)
        hidden_states = hidden_states[:, prefix_length:]
        if output_hidden_states:
            all_hidden_states = tuple(all_hidden_states) + (hidden_states,)

        if cache is not None:
            cache.seq_length += prefix_length + hidden_states.shape[1]
        outputs = SimbaMusicModelOutput(last_hidden_state=hidden_states, cache=cache if use_cache else None,
                                        hidden_states=all_hidden_states)
        return outputs if return_dict else outputs.to_tuple()


class SimbaMusicForCausalLM(SimbaMusicPreTrainedModel, GenerationMixin):
    def __init__(self, config: SimbaMusicConfig):
        super().__init__(config)
        self.model = SimbaMusicModel(config)
        self.lm_head = nn.ModuleList(Linear(config.hidden_size, config.vocab_size, bias=False)
                                     for _ in range(config.num_codebooks))
        self.post_init()
        # The special id is a start/pad marker, never an audio code.
        self.generation_config.suppress_tokens = [config.special_token_id]

    def get_input_embeddings(self, codebook: int = 0) -> nn.Embedding:
        return self.model.get_input_embeddings(codebook)

    def set_input_embeddings(self, value: nn.Embedding, codebook: int = 0):
        self.model.set_input_embeddings(value, codebook)

    def get_output_embeddings(self, codebook: int = 0) -> nn.Linear:
        return self.lm_head[_check_codebook(self.config, codebook)]

    def set_output_embeddings(self, value: nn.Linear, codebook: int = 0):
        self.lm_head[_check_codebook(self.config, codebook)] = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        return False  # SimbaMusicCache is created in `prepare_inputs_for_generation`.

    def forward(self, input_ids: torch.LongTensor, encoder_hidden_states: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None, labels: torch.LongTensor | None = None,
                cache: SimbaMusicCache | None = None, use_cache: bool | None = None,
                attention_mask: torch.Tensor | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, num_items_in_batch: int | torch.Tensor | None = None,
                delay_pattern_applied: bool | None = None, audio_positions_from: int | None = None,
                **kwargs) -> SimbaMusicCausalLMOutput | tuple:
        """`attention_mask` is accepted for GenerationMixin and ignored: every code position is real, and padding
        is expressed through `labels = -100`.

        With K > 1 codebooks, `delay_pattern_applied` says whether `input_ids` are frames of the delayed sequence
        (logits then follow the frames) or plain codes (the delay is applied here and undone on the logits). It
        defaults to True when continuing from a non-empty cache, False otherwise. `audio_positions_from`: see
        `SimbaMusicModel.forward`."""
        num_codebooks = self.config.num_codebooks
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        self._check_input_ids(input_ids)
        if delay_pattern_applied is None:
            delay_pattern_applied = cache is not None and not cache.is_empty
        delay = num_codebooks > 1 and not delay_pattern_applied
        model_input = apply_delay_pattern(input_ids, self.config.special_token_id) if delay else input_ids
        outputs = self.model(model_input, encoder_hidden_states=encoder_hidden_states,
                             encoder_attention_mask=encoder_attention_mask, cache=cache, use_cache=use_cache,
                             output_hidden_states=output_hidden_states, return_dict=True,
                             audio_positions_from=audio_positions_from)
        hidden_states = outputs.last_hidden_state
        if num_codebooks == 1:
            logits = self.lm_head[0](hidden_states)
        else:
            logits = torch.stack([head(hidden_states) for head in self.lm_head], dim=1)
            if delay:
                logits = undo_delay_pattern(logits, input_ids.shape[-1])

        # Half-precision logits are upcast for the loss and for sampling; float64 stays float64.
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        shift_labels = kwargs.get("shift_labels")
        loss = (self.loss_function(logits, labels, num_items_in_batch, shift_labels=shift_labels)
                if labels is not None or shift_labels is not None else None)
        result = SimbaMusicCausalLMOutput(loss=loss, logits=logits, cache=outputs.cache,
                                          hidden_states=outputs.hidden_states, last_hidden_state=hidden_states)
        return result if return_dict else result.to_tuple()

    def _check_input_ids(self, input_ids: torch.Tensor) -> None:
        expected_dim = 2 if self.config.num_codebooks == 1 else 3
        if input_ids.dim() != expected_dim or (expected_dim == 3 and input_ids.shape[1] != self.config.num_codebooks):
            shape = "[batch, length]" if expected_dim == 2 else f"[batch, {self.config.num_codebooks}, length]"
            raise ValueError(f"input_ids: expected shape {shape}, got {list(input_ids.shape)}")

    def loss_function(self, logits: torch.Tensor, labels: torch.Tensor | None,
                      num_items_in_batch: int | torch.Tensor | None = None,
                      shift_labels: torch.Tensor | None = None, **_) -> torch.Tensor:
        """Next-token cross-entropy. Labels are the codes themselves (shifted here); -100 and the special id are
        ignored. `shift_labels`, targets already aligned with the logits (what sequence-parallel training passes),
        are used as given instead. With `num_items_in_batch` (gradient accumulation in Trainer) the sum is divided
        by it."""
        if shift_labels is None:
            logits, shift_labels = logits[..., :-1, :], labels[..., 1:]
        targets = shift_labels.to(logits.device)
        targets = targets.masked_fill(targets == self.config.special_token_id, -100)
        reduction = "sum" if num_items_in_batch is not None else "mean"
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                               reduction=reduction, label_smoothing=self.config.label_smoothing)
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
        model_inputs = {"input_ids": input_ids, "cache": cache if use_cache else None, "use_cache": use_cache,
                        "encoder_hidden_states": encoder_hidden_states,
                        "encoder_attention_mask": encoder_attention_mask}
        # Other model keyword arguments (output_hidden_states, delay_pattern_applied, ...) go on to forward(), as in
        # GenerationMixin's default; labels never do.
        model_inputs.update({key: value for key, value in kwargs.items()
                             if key not in model_inputs and key not in ("labels", "next_sequence_length")})
        return model_inputs
