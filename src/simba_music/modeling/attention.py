"""Causal self-attention and cross-attention (SDPA), used by the Transformer variants and the hybrids.

Projection layout follows the original SSM-TTM code: `q_proj` and `kv_proj` (keys and values concatenated) without
bias, `out_proj` with bias.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cache import CrossKVState, KVState, SimbaMusicCache
from .linear import Linear


class _Attention(nn.Module):
    takes_input_norm = False  # two input projections (q and kv): the block norms the input once for both

    def __init__(self, config, cache_key: str):
        super().__init__()
        self.cache_key = cache_key
        self.heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.heads
        self.q_proj = Linear(config.hidden_size, config.hidden_size, bias=False)
        self.kv_proj = Linear(config.hidden_size, 2 * config.hidden_size, bias=False)
        self.out_proj = Linear(config.hidden_size, config.hidden_size, bias=True)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)

    def _keys_values(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.kv_proj(source).chunk(2, dim=-1)
        return self._heads(keys), self._heads(values)

    def _attend(self, hidden_states, keys, values, mask=None, is_causal=False) -> torch.Tensor:
        queries = self._heads(self.q_proj(hidden_states))
        out = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask, is_causal=is_causal)
        return self.out_proj(out.transpose(1, 2).flatten(-2))


class SelfAttention(_Attention):
    """Causal multi-head self-attention with a growing key/value cache."""

    def forward(self, hidden_states: torch.Tensor, cache: SimbaMusicCache | None = None, **_) -> torch.Tensor:
        keys, values = self._keys_values(hidden_states)
        query_length = hidden_states.shape[1]
        if cache is not None:
            state = cache.states.get(self.cache_key)
            if state is None:
                state = cache.states[self.cache_key] = KVState(keys.new_empty(keys.shape[:2] + (0, self.head_dim)),
                                                               values.new_empty(keys.shape[:2] + (0, self.head_dim)))
            keys, values = state.append(keys, values)
        key_length = keys.shape[2]
        if query_length == key_length:
            return self._attend(hidden_states, keys, values, is_causal=True)
        if query_length == 1:
            return self._attend(hidden_states, keys, values)
        # Several new queries after a cached past: query i sits at absolute position key_length - query_length + i.
        mask = torch.ones(query_length, key_length, dtype=torch.bool, device=keys.device)
        mask = mask.tril(key_length - query_length)
        return self._attend(hidden_states, keys, values, mask=mask)


class CrossAttention(_Attention):
    """Attention from audio positions to the (projected) text; its keys and values are cached once."""

    def forward(self, hidden_states: torch.Tensor, cache: SimbaMusicCache | None = None,
                text_states: torch.Tensor | None = None, text_mask: torch.Tensor | None = None, **_) -> torch.Tensor:
        state = cache.states.get(self.cache_key) if cache is not None else None
        if state is None:
            if text_states is None:
                raise ValueError("encoder_hidden_states is required by cross-attention conditioning "
                                 "(on the first forward pass; later steps read it from the cache)")
            keys, values = self._keys_values(text_states)
            mask = None
            if text_mask is not None:
                mask = text_mask.bool().clone()
                # An empty caption (every token masked) would make softmax NaN: let it see its first token.
                mask[:, 0] |= ~mask.any(dim=-1)
                mask = mask[:, None, None, :]
            state = CrossKVState(keys, values, mask)
            if cache is not None:
                cache.states[self.cache_key] = state
        return self._attend(hidden_states, state.keys, state.values, mask=state.mask)
