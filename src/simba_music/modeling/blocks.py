"""A SimbaMusic block: its sublayers in order, each as pre-RMSNorm -> op -> dropout -> residual."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .attention import CrossAttention, SelfAttention
from .channel_mixers import MLP, CausalEinFFT
from .linear import Linear
from .recompute import linear_of_recomputed
from .ssm import Mamba2Mixer, MambaMixer

SUBLAYER_CLASSES = {
    "mamba": MambaMixer,
    "mamba2": Mamba2Mixer,
    "attention": SelfAttention,
    "cross_attention": CrossAttention,
    "mlp": MLP,
    "einfft": CausalEinFFT,
}


def _rms_norm(hidden_states: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    # The fused kernel matters when decoding: one op instead of seven, in every sublayer of every step.
    return F.rms_norm(hidden_states, (hidden_states.shape[-1],), weight.to(hidden_states.dtype), eps)


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return _rms_norm(hidden_states, self.weight, self.eps)

    def then(self, layer: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
        """`layer(self(hidden_states))`; training keeps `hidden_states` (which the residual keeps anyway) instead of
        the normed copy, and recomputes the norm in backward."""
        return linear_of_recomputed(layer, _rms_norm, hidden_states, self.weight, self.eps)


class ResidualSublayer(nn.Module):
    def __init__(self, config, kind: str, cache_key: str):
        super().__init__()
        self.kind = kind
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.op = SUBLAYER_CLASSES[kind](config, cache_key)
        self.dropout = nn.Dropout(config.dropout)

    def branch(self, hidden_states: torch.Tensor, **context) -> torch.Tensor:
        """The sublayer's contribution, before the residual is added."""
        if self.op.takes_input_norm:  # its first layer is one linear: the norm is folded into it (RMSNorm.then)
            out = self.op(hidden_states, input_norm=self.norm, **context)
        else:
            out = self.op(self.norm(hidden_states), **context)
        # Skipping the no-op dropout call matters when decoding: a step is ~70 small ops per layer.
        return self.dropout(out) if self.training and self.dropout.p > 0 else out

    def forward(self, hidden_states: torch.Tensor, **context) -> torch.Tensor:
        return hidden_states + self.branch(hidden_states, **context)


class SimbaMusicBlock(GradientCheckpointingLayer):
    """One decoder block. In a hybrid layer, the SSM sublayer runs beside a causal self-attention sublayer and a
    sigmoid gate, computed from both outputs, blends them."""

    def __init__(self, config, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.sublayers = nn.ModuleList(
            ResidualSublayer(config, kind, f"{layer_idx}.{i}") for i, kind in enumerate(config.block_pattern))
        self.hybrid_index = None
        if layer_idx in config.hybrid_attention_layers:
            self.hybrid_index = next(i for i, k in enumerate(config.block_pattern) if k in ("mamba", "mamba2"))
            self.hybrid_attention = ResidualSublayer(config, "attention", f"{layer_idx}.hybrid")
            self.fusion_gate = Linear(2 * config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor, text_states=None, text_mask=None, cache=None) -> torch.Tensor:
        """Tensors that may need gradients come positionally: reentrant gradient checkpointing (transformers'
        GradientCheckpointingLayer) passes only positional arguments through as inputs of the checkpoint."""
        context = {"cache": cache, "text_states": text_states, "text_mask": text_mask}
        for index, sublayer in enumerate(self.sublayers):
            if index == self.hybrid_index:
                ssm_out = sublayer(hidden_states, **context)
                attention_out = self.hybrid_attention(hidden_states, **context)
                gate = torch.sigmoid(self.fusion_gate(torch.cat([ssm_out, attention_out], dim=-1)))
                hidden_states = gate * ssm_out + (1 - gate) * attention_out
            else:
                hidden_states = sublayer(hidden_states, **context)
        return hidden_states
