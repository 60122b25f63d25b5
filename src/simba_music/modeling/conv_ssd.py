"""Mamba2's sequence path after in_proj on the PyTorch path, as one autograd Function: SiLU(causal convolution),
split into x, B and C, then the chunked SSD scan with its skip term D * x.

Why one Function: composed from the convolution's and the scan's own Functions, the scan keeps x, B and C for its
backward, and those are the convolution's output: conv_channels floats per token per layer that nothing else needs
(18 MB per layer at the paper's size, L 1500; 4 MB at the tiny one). Here only the convolution's input is kept, which
in_proj's output holds anyway, and the backward recomputes the convolution (a few multiply-adds per element) before
running the scan's backward, as mamba-ssm's `mamba_split_conv1d_scan_combined` does on GPU.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .causal_conv import conv_pre_activation, conv_silu_backward
from .ssd_chunked import ssd_backward, ssd_forward
from .threads import backward_on_fitted_threads


class SSDLayout(NamedTuple):
    """How the convolution's channels split into x [heads, head_dim] and B, C [groups, state_size]."""

    heads: int
    head_dim: int
    groups: int
    state_size: int

    def split(self, xBC: torch.Tensor):
        """[..., channels] -> x [..., H, P], B and C [..., G, N]."""
        inner, grouped = self.heads * self.head_dim, self.groups * self.state_size
        x, B, C = xBC.split([inner, grouped, grouped], dim=-1)
        return (x.unflatten(-1, (self.heads, self.head_dim)), B.unflatten(-1, (self.groups, self.state_size)),
                C.unflatten(-1, (self.groups, self.state_size)))


class ConvSSDScanFunction(torch.autograd.Function):
    """(xBC [B, L, channels], conv weight [channels, K], conv bias, dt [B, L, H] (softplus-ed), A [H], D [H],
    initial state [B, H, P, N] or None, layout, chunk length, accumulation dtype) -> y [B, L, H, P] in xBC's dtype and
    the final state in the accumulation dtype."""

    @staticmethod
    def forward(ctx, xBC, weight, bias, dt, A, D, initial_state, layout: SSDLayout, Q: int, acc: torch.dtype):
        activated = torch.nn.functional.silu(conv_pre_activation(xBC, weight, bias)).to(acc)
        x, B, C = layout.split(activated)
        y, final = ssd_forward(x, dt, A, B, C, Q, initial_state)
        y += x * D[:, None]
        ctx.save_for_backward(xBC, weight, bias, dt, A, D, initial_state)
        ctx.layout, ctx.Q = layout, Q
        return y.to(xBC.dtype), final

    @staticmethod
    @backward_on_fitted_threads
    def backward(ctx, grad_y, grad_final):
        xBC, weight, bias, dt, A, D, initial_state = ctx.saved_tensors
        pre = conv_pre_activation(xBC, weight, bias)
        activated = torch.nn.functional.silu(pre).to(dt.dtype)
        x, B, C = ctx.layout.split(activated)
        grad_y = None if grad_y is None else grad_y.to(dt.dtype)
        grad_x, grad_dt, grad_A, grad_B, grad_C, grad_initial = ssd_backward(
            x, dt, A, B, C, initial_state, ctx.Q, grad_y, grad_final)
        grad_D = None
        if grad_y is not None:
            grad_x.addcmul_(grad_y, D[:, None])
            grad_D = torch.einsum("blhp,blhp->h", grad_y, x)
        del activated, x, B, C
        batch, length = xBC.shape[:2]
        grad_activated = torch.cat([grad.reshape(batch, length, -1) for grad in (grad_x, grad_B, grad_C)], dim=-1)
        del grad_x, grad_B, grad_C
        grad_xBC, grad_weight, grad_bias = conv_silu_backward(
            xBC, weight, bias, grad_activated.to(xBC.dtype), ctx.needs_input_grad[:3], pre=pre)
        return grad_xBC, grad_weight, grad_bias, grad_dt, grad_A, grad_D, grad_initial, None, None, None
