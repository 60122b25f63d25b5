"""Generation cache: per-sublayer state, so that decoding costs O(1) work per token for the SSM layers.

SSM sublayers keep a convolution window and a recurrent state of fixed size; self-attention keeps a growing key/value
buffer; cross-attention keeps the keys and values of the text, computed once at prefill.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .kernels import settle


@dataclass
class SSMState:
    conv_state: torch.Tensor  # [B, C, K]: the last K inputs of the causal convolution
    ssm_state: torch.Tensor  # [B, D, N] (Mamba) or [B, H, P, N] (Mamba2)
    # Whatever the kernel that last stepped this state keeps beside it (the PyTorch Mamba2 step holds its latest
    # steps back, see torch_kernels.DeferredUpdates); `kernels.settle` folds it into ssm_state.
    kernel_state: object | None = None


@dataclass
class KVState:
    """Keys and values [B, heads, capacity, head_dim], valid up to `length`; capacity doubles when full."""

    keys: torch.Tensor
    values: torch.Tensor
    length: int = 0

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        needed = self.length + keys.shape[2]
        if needed > self.keys.shape[2]:
            capacity = max(needed, 2 * self.keys.shape[2])
            grow = capacity - self.keys.shape[2]
            self.keys = torch.nn.functional.pad(self.keys, (0, 0, 0, grow))
            self.values = torch.nn.functional.pad(self.values, (0, 0, 0, grow))
        self.keys[:, :, self.length:needed] = keys
        self.values[:, :, self.length:needed] = values
        self.length = needed
        return self.keys[:, :, :needed], self.values[:, :, :needed]


@dataclass
class CrossKVState:
    keys: torch.Tensor  # [B, heads, S, head_dim]
    values: torch.Tensor
    mask: torch.Tensor | None  # [B, 1, 1, S] boolean, True where the text token may be attended


@dataclass
class SimbaMusicCache:
    """State of every sublayer plus the number of positions consumed (text prefix included)."""

    states: dict[str, object] = field(default_factory=dict)
    seq_length: int = 0

    # Read by transformers' GenerationMixin.
    is_compileable = False

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seq_length

    @property
    def is_empty(self) -> bool:
        return self.seq_length == 0

    @property
    def is_linear(self) -> list[bool]:
        """Per sublayer state: True for the fixed-size SSM ones (read by GenerationMixin when continuing from a
        cache; `prepare_inputs_for_generation` then feeds only the token the cache has not seen)."""
        return [isinstance(state, SSMState) for state in self.states.values()]

    def _map_tensors(self, fn) -> None:
        for state in self.states.values():
            if isinstance(state, SSMState):
                settle(state)
            for name, value in vars(state).items():
                if isinstance(value, torch.Tensor):
                    setattr(state, name, fn(value))

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        """Select batch rows (beam search, or dropping finished rows)."""
        self._map_tensors(lambda t: t.index_select(0, beam_idx.to(t.device)))

    def to(self, *args, **kwargs) -> SimbaMusicCache:
        self._map_tensors(lambda t: t.to(*args, **kwargs))
        return self

    def state_norms(self) -> dict[str, float]:
        """Largest absolute value of each SSM state: a cheap health check for very long generations."""
        norms = {}
        for key, state in self.states.items():
            if isinstance(state, SSMState):
                settle(state)
                norms[key] = float(state.ssm_state.abs().max())
        return norms
