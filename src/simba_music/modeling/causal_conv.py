"""SiLU(depthwise causal convolution) for the PyTorch path, in the [batch, length, channels] layout, with a
hand-written backward.

Why not `F.conv1d(groups=channels)`: the layers hold their activations as [B, L, C], so conv1d needed a transposed
copy in and out, and oneDNN's depthwise backward was slow: in a tiny training step (d 256 x 4, L 1500, 2 threads) the
convolutions' backward took 15 ms per layer, more than the layer's in_proj. With a kernel of 4 taps the convolution is
4 shifted multiply-adds over the input, and its backward 4 more plus 4 reductions. The backward recomputes the
pre-activation from the input instead of saving it, so training keeps only `x`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def conv_pre_activation(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """bias + sum_k weight[:, k] * x[t - (K-1) + k] in x's dtype, x before the start counting as 0; no padded copy
    of x."""
    weight = weight.to(x.dtype)
    taps, length = weight.shape[-1], x.shape[1]
    pre = x * weight[:, -1]
    for k in range(taps - 1):
        shift = taps - 1 - k
        if shift < length:
            pre[:, shift:].addcmul_(x[:, :length - shift], weight[:, k])
    return pre if bias is None else pre.add_(bias.to(x.dtype))


def _conv_silu(x, weight, bias):
    return F.silu(conv_pre_activation(x, weight, bias))


def conv_silu_backward(x, weight, bias, grad_output, needs_input_grad, pre=None):
    """Gradients of `_conv_silu` for x, weight and bias (None where not needed). `pre`, the pre-activation if the
    caller already recomputed it, is overwritten."""
    taps, length = weight.shape[-1], x.shape[1]
    cast_weight = weight.to(x.dtype)
    if pre is None:
        pre = conv_pre_activation(x, weight, bias)
    sigmoid = torch.sigmoid(pre)
    grad_pre = grad_output * sigmoid
    # d silu(p) / dp = s (1 + p (1 - s)), built in the buffers already held
    grad_pre.mul_(pre.mul_(sigmoid.neg_().add_(1)).add_(1))
    del pre, sigmoid
    grad_x = grad_weight = grad_bias = None
    if needs_input_grad[0]:  # x[s] fed outputs s .. s + K - 1
        grad_x = grad_pre * cast_weight[:, -1]
        for k in range(taps - 1):
            shift = taps - 1 - k
            if shift < length:
                grad_x[:, :length - shift].addcmul_(grad_pre[:, shift:], cast_weight[:, k])
    if needs_input_grad[1]:
        columns = []
        for k in range(taps):
            shift = taps - 1 - k
            columns.append((grad_pre[:, shift:] * x[:, :length - shift]).sum((0, 1)) if shift < length
                           else grad_pre.new_zeros(grad_pre.shape[-1]))
        grad_weight = torch.stack(columns, dim=-1).to(weight.dtype)
    if bias is not None and needs_input_grad[2]:
        grad_bias = grad_pre.sum((0, 1)).to(bias.dtype)
    return grad_x, grad_weight, grad_bias


class CausalConv1dSiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight, bias)
        return _conv_silu(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, bias = ctx.saved_tensors
        return conv_silu_backward(x, weight, bias, grad_output, ctx.needs_input_grad)


def causal_conv1d_silu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """SiLU(depthwise causal conv): `x` [B, L, C], `weight` [C, K], `bias` [C] or None -> [B, L, C] in x's dtype."""
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias)):
        return CausalConv1dSiLU.apply(x, weight, bias)
    return _conv_silu(x, weight, bias)
