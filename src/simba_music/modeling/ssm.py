"""Mamba (selective scan) and Mamba2 (SSD) sequence mixers.

Each mixer owns its forward, its one-token step and its cache entry, in the style of mamba-ssm's `Mamba2` module;
kernels are chosen in `kernels.py`. Parameter names follow transformers' `MambaMixer` / `Mamba2Mixer` (and mamba-ssm),
so weights copy across 1:1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import initialization as init

from .cache import SimbaMusicCache, SSMState
from .conv_ssd import SSDLayout
from .kernels import (
    causal_conv1d,
    causal_conv1d_step,
    conv_ssd_scan,
    selective_scan,
    selective_state_step,
    settle,
    ssd_state_step,
)
from .linear import Linear
from .recompute import linear_of_recomputed, recomputed
from .torch_kernels import accumulation_dtype


class GatedRMSNorm(nn.Module):
    """RMSNorm(y * silu(z)) per group: Mamba2's output norm with `norm_before_gate=False`."""

    def __init__(self, hidden_size: int, group_size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.group_size = group_size
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor, gate: torch.Tensor, projection: nn.Module | None = None
                ) -> torch.Tensor:
        """The norm, then `projection` if given. Training saves only the inputs: silu(gate), the product and the
        normed product (the projection's input) are recomputed in backward."""
        arguments = (hidden_states, gate, self.weight, self.group_size, self.eps)
        if projection is None:
            return recomputed(_gated_rms_norm, *arguments)
        return linear_of_recomputed(projection, _gated_rms_norm, *arguments)


def _gated_rms_norm(hidden_states, gate, weight, group_size: int, eps: float) -> torch.Tensor:
    x = (hidden_states * F.silu(gate)).unflatten(-1, (-1, group_size))
    return weight.to(x.dtype) * F.rms_norm(x, (group_size,), eps=eps).flatten(-2)


def _inverse_softplus_time_steps(count: int, config, device) -> torch.Tensor:
    dt = torch.exp(torch.rand(count, device=device) * (math.log(config.time_step_max) - math.log(config.time_step_min))
                   + math.log(config.time_step_min)).clamp(min=config.time_step_floor)
    return dt + torch.log(-torch.expm1(-dt))


class _SSMMixer(nn.Module):
    """Shared plumbing: the causal convolution with its cache, and the prefill/step split."""

    takes_input_norm = True  # in_proj is its one first layer

    def __init__(self, config, cache_key: str, conv_channels: int):
        super().__init__()
        self.config = config
        self.cache_key = cache_key
        self.conv1d = nn.Conv1d(conv_channels, conv_channels, config.conv_kernel, groups=conv_channels,
                                padding=config.conv_kernel - 1, bias=config.use_conv_bias)

    def _decay_rates(self) -> torch.Tensor:
        """A = -exp(A_log) in the scans' accumulation dtype (float32, or float64 for a float64 model)."""
        return -torch.exp(self.A_log.to(accumulation_dtype(self.A_log)))

    def _reset_unless_meta(self):
        # Usable standalone; from_pretrained builds on the meta device and skips this.
        if self.A_log.device.type != "meta":
            self.reset_ssm_parameters()

    def _conv(self, x: torch.Tensor, state: SSMState | None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, L, C] -> SiLU(conv(x)) [B, L, C] and the new convolution window."""
        out, window = causal_conv1d(x.transpose(1, 2), self.conv1d.weight.squeeze(1), self.conv1d.bias,
                                            state.conv_state if state is not None else None)
        return out.transpose(1, 2), window

    def _conv_step(self, x: torch.Tensor, state: SSMState) -> torch.Tensor:
        return causal_conv1d_step(x, state.conv_state, self.conv1d.weight.squeeze(1), self.conv1d.bias)

    def forward(self, hidden_states: torch.Tensor, cache: SimbaMusicCache | None = None, input_norm=None,
                **_) -> torch.Tensor:
        """`input_norm`, if given (an `RMSNorm` from the block), is applied to `hidden_states` first, folded into
        in_proj (`RMSNorm.then`)."""
        state = cache.states.get(self.cache_key) if cache is not None else None
        if state is not None and hidden_states.shape[1] == 1:
            return self.step(input_norm(hidden_states) if input_norm is not None else hidden_states, state)
        if state is not None:
            settle(state)  # the scan starts from ssm_state alone
        projected = (input_norm.then(self.in_proj, hidden_states) if input_norm is not None
                     else self.in_proj(hidden_states))
        output, conv_window, ssm_state = self.scan(projected, state)
        if cache is not None:
            cache.states[self.cache_key] = SSMState(conv_window, ssm_state.to(self._state_dtype(hidden_states)))
        return output

    @staticmethod
    def _state_dtype(hidden_states: torch.Tensor) -> torch.dtype:
        # Half-precision models keep a half-precision state: decoding is bound by reading it.
        return hidden_states.dtype


class MambaMixer(_SSMMixer):
    """Mamba (S6): per-channel selective scan with an input-dependent time step, B and C."""

    def __init__(self, config, cache_key: str):
        inner = config.intermediate_ssm_size
        super().__init__(config, cache_key, inner)
        self.inner = inner
        self.time_step_rank = config.time_step_rank
        self.in_proj = Linear(config.hidden_size, 2 * inner, bias=config.use_bias)
        self.x_proj = Linear(inner, config.time_step_rank + 2 * config.state_size, bias=False)
        self.dt_proj = Linear(config.time_step_rank, inner, bias=True)
        self.A_log = nn.Parameter(torch.empty(inner, config.state_size))
        self.D = nn.Parameter(torch.empty(inner))
        self.out_proj = Linear(inner, config.hidden_size, bias=config.use_bias)
        self._reset_unless_meta()

    @torch.no_grad()
    def reset_ssm_parameters(self):
        A = torch.arange(1, self.config.state_size + 1, dtype=torch.float32, device=self.A_log.device)
        init.copy_(self.A_log, torch.log(A).expand(self.inner, -1))
        init.ones_(self.D)
        init.uniform_(self.dt_proj.weight, -self.time_step_rank ** -0.5, self.time_step_rank ** -0.5)
        init.copy_(self.dt_proj.bias, _inverse_softplus_time_steps(self.inner, self.config, self.dt_proj.bias.device))

    def _ssm_inputs(self, x: torch.Tensor):
        time_step, B, C = self.x_proj(x).split([self.time_step_rank, self.config.state_size, self.config.state_size],
                                               dim=-1)
        return F.softplus(self.dt_proj(time_step)), B, C

    def scan(self, projected, state):
        x, z = projected.chunk(2, dim=-1)
        x, conv_window = self._conv(x, state)
        delta, B, C = self._ssm_inputs(x)
        y, ssm_state = selective_scan(
            x.transpose(1, 2), delta.transpose(1, 2), self._decay_rates(), B.transpose(1, 2),
            C.transpose(1, 2), self.D, z.transpose(1, 2), state.ssm_state if state is not None else None)
        return self.out_proj(y.transpose(1, 2)), conv_window, ssm_state

    def step(self, hidden_states, state):
        x, z = self.in_proj(hidden_states[:, 0]).chunk(2, dim=-1)
        x = self._conv_step(x, state)
        delta, B, C = self._ssm_inputs(x)
        y = selective_state_step(state.ssm_state, x, delta, self._decay_rates(), B, C, self.D, z)
        return self.out_proj(y).unsqueeze(1)


class Mamba2Mixer(_SSMMixer):
    """Mamba2 (SSD): a scalar decay per head, grouped B and C, gated RMSNorm before the output projection."""

    def __init__(self, config, cache_key: str):
        inner = config.intermediate_ssm_size
        conv_channels = inner + 2 * config.n_groups * config.state_size
        super().__init__(config, cache_key, conv_channels)
        self.inner, self.heads, self.head_dim = inner, config.num_ssm_heads, config.head_dim
        self.groups, self.state_size, self.conv_channels = config.n_groups, config.state_size, conv_channels
        self.chunk_size = config.chunk_size
        self.layout = SSDLayout(self.heads, self.head_dim, self.groups, self.state_size)
        self.in_proj = Linear(config.hidden_size, inner + conv_channels + self.heads, bias=config.use_bias)
        self.dt_bias = nn.Parameter(torch.empty(self.heads))
        self.A_log = nn.Parameter(torch.empty(self.heads))
        self.D = nn.Parameter(torch.empty(self.heads))
        self.norm = GatedRMSNorm(inner, inner // self.groups, config.rms_norm_eps)
        self.out_proj = Linear(inner, config.hidden_size, bias=config.use_bias)
        self._reset_unless_meta()

    @torch.no_grad()
    def reset_ssm_parameters(self):
        init.copy_(self.A_log,
                   torch.log(torch.arange(1, self.heads + 1, dtype=torch.float32, device=self.A_log.device)))
        init.ones_(self.D)
        init.copy_(self.dt_bias, _inverse_softplus_time_steps(self.heads, self.config, self.dt_bias.device))

    def _split(self, projected):
        return projected.split([self.inner, self.conv_channels, self.heads], dim=-1)

    def scan(self, projected, state):
        batch, seq_len, _ = projected.shape
        z, xBC, dt = self._split(projected)
        y, ssm_state, conv_window = conv_ssd_scan(
            xBC, self.conv1d.weight.squeeze(1), self.conv1d.bias, F.softplus(dt + self.dt_bias), self._decay_rates(),
            self.D, self.chunk_size, self.layout, state.ssm_state if state is not None else None,
            state.conv_state if state is not None else None)
        return self.norm(y.reshape(batch, seq_len, self.inner), z, self.out_proj), conv_window, ssm_state

    def step(self, hidden_states, state):
        batch = hidden_states.shape[0]
        z, xBC, dt = self._split(self.in_proj(hidden_states[:, 0]))
        x, B, C = self.layout.split(self._conv_step(xBC, state))
        y = ssd_state_step(state, x, F.softplus(dt + self.dt_bias), self._decay_rates(), B, C, self.D)
        return self.out_proj(self.norm(y.reshape(batch, self.inner), z)).unsqueeze(1)
