"""Channel mixers: the position-wise half of a SiMBA block. Neither looks across time, so both are causal."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN

from .linear import Linear
from .recompute import linear_of_recomputed


class MLP(nn.Module):
    """Linear(d, 2d) -> activation -> dropout -> Linear(2d, d), the paper's feed-forward."""

    takes_input_norm = True

    def __init__(self, config, cache_key: str = ""):
        super().__init__()
        self.up_proj = Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.dropout)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor, input_norm=None, **_) -> torch.Tensor:
        """`input_norm`, if given (an `RMSNorm` from the block), is applied first, folded into up_proj."""
        hidden = input_norm.then(self.up_proj, hidden_states) if input_norm is not None else self.up_proj(hidden_states)
        if self.training and self.dropout.p > 0:
            return self.down_proj(self.dropout(self.act(hidden)))
        # Without dropout (whose mask a recomputation would not reproduce), down_proj's input, act(hidden), is
        # recomputed in backward instead of saved.
        return linear_of_recomputed(self.down_proj, self.act, hidden)


class CausalEinFFT(nn.Module):
    """SiMBA's EinFFT channel mixer, made causal.

    SiMBA applies `fft2` over (sequence, channel blocks), which lets every position see the future. Here the FFT runs
    over the channel-block axis of each token only: FFT -> complex block-diagonal weight + bias -> ReLU on real and
    imaginary parts -> second complex weight + bias -> softshrink -> inverse FFT.
    """

    takes_input_norm = False

    def __init__(self, config, cache_key: str = ""):
        super().__init__()
        self.num_blocks = config.einfft_num_blocks
        self.block_size = config.hidden_size // self.num_blocks
        self.sparsity_threshold = config.einfft_sparsity_threshold
        shape = (2, self.num_blocks, self.block_size, self.block_size)
        # [real, imaginary] stacked on the first axis, as in SiMBA.
        std = config.initializer_range
        self.weight_1 = nn.Parameter(torch.randn(shape) * std)
        self.bias_1 = nn.Parameter(torch.randn(2, self.num_blocks, self.block_size) * std)
        self.weight_2 = nn.Parameter(torch.randn(shape) * std)
        self.bias_2 = nn.Parameter(torch.randn(2, self.num_blocks, self.block_size) * std)

    @staticmethod
    def _complex_blockwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return (torch.einsum("...bi,bio->...bo", x, torch.complex(weight[0], weight[1]))
                + torch.complex(bias[0], bias[1]))

    def forward(self, hidden_states: torch.Tensor, **_) -> torch.Tensor:
        dtype = hidden_states.dtype
        # The FFT runs in float32 for half-precision inputs (no bf16 FFT on CPU) and in float64 for float64 ones.
        real = torch.promote_types(dtype, torch.float32)
        x = hidden_states.to(real).unflatten(-1, (self.num_blocks, self.block_size))
        x = torch.fft.fft(x, dim=-2, norm="ortho")
        x = self._complex_blockwise(x, self.weight_1.to(real), self.bias_1.to(real))
        x = torch.complex(F.relu(x.real), F.relu(x.imag))
        x = self._complex_blockwise(x, self.weight_2.to(real), self.bias_2.to(real))
        x = torch.complex(F.softshrink(x.real, self.sparsity_threshold), F.softshrink(x.imag, self.sparsity_threshold))
        x = torch.fft.ifft(x, dim=-2, norm="ortho").real
        return x.flatten(-2).to(dtype)
