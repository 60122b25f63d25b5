"""Run a cheap function without keeping its intermediate tensors for backward: only its inputs are saved, and the
backward pass runs it again under autograd.

Why: in a training step of the PyTorch path, the Mamba2 layer's elementwise tail kept more activations than the
attention it replaces (issue 16's memory target). The gated RMSNorm kept silu(z), y * silu(z) and the normed product,
about 1,500 floats per token per layer at d 256, all recomputable from inputs that are kept anyway (the in_proj
output and the scan output). Recomputing them costs a few elementwise passes, far less than the matmuls around them.
(The causal convolution does the same in its own hand-written backward, `causal_conv.py`.)

`linear_of_recomputed` extends this to the linear layer that consumes such a function's result (the block's RMSNorm
before in_proj / up_proj, the gated norm before the Mamba2 out_proj, the MLP's activation before down_proj): autograd
would keep that result for the layer's weight gradient, one [L, inner] tensor per layer; here the backward recomputes
it and forms the layer's products itself.

Like `torch.utils.checkpoint`, but one small function at a time and with no per-call bookkeeping. The autocast
state of the forward is restored for the recomputation, so bf16 autocast recomputes the same bf16 values.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear


class _Recomputed(torch.autograd.Function):
    """function(*inputs), then optionally a linear layer (weight, bias) applied to its result.

    With the linear layer, the function's result (the layer's input) is not saved either: the backward recomputes
    it, then forms the layer's two products by hand, so the matmul itself is not run again."""

    @staticmethod
    def forward(ctx, function, weight, bias, *inputs):
        ctx.function = function
        ctx.device_type = next(x.device.type for x in inputs if isinstance(x, torch.Tensor))
        ctx.autocast = (torch.is_autocast_enabled(ctx.device_type), torch.get_autocast_dtype(ctx.device_type))
        ctx.tensor_positions = [i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor)]
        ctx.others = [None if isinstance(x, torch.Tensor) else x for x in inputs]
        ctx.has_bias = bias is not None
        ctx.save_for_backward(weight, *(inputs[i] for i in ctx.tensor_positions))
        with torch.no_grad():
            output = function(*inputs)
            return output if weight is None else F.linear(output, weight, bias)

    @staticmethod
    def backward(ctx, grad_output):
        weight, *saved_inputs = ctx.saved_tensors
        inputs = list(ctx.others)
        for position, saved in zip(ctx.tensor_positions, saved_inputs, strict=True):
            inputs[position] = saved.detach().requires_grad_(ctx.needs_input_grad[position + 3])
        enabled, dtype = ctx.autocast
        with torch.enable_grad(), torch.autocast(ctx.device_type, dtype=dtype, enabled=enabled):
            output = ctx.function(*inputs)
        grad_weight = grad_bias = None
        if weight is not None:
            # The linear layer's backward, in the dtype its forward ran in (bf16 under bf16 autocast).
            rows = grad_output.reshape(-1, grad_output.shape[-1])
            if ctx.needs_input_grad[1]:
                grad_weight = (rows.t() @ output.detach().reshape(-1, output.shape[-1]).to(rows.dtype)).to(weight.dtype)
            if ctx.has_bias and ctx.needs_input_grad[2]:
                grad_bias = rows.sum(0).to(weight.dtype)
            grad_output = (grad_output @ weight.to(grad_output.dtype)).to(output.dtype)
        wanted = [i for i in ctx.tensor_positions if ctx.needs_input_grad[i + 3]]
        # Only the layer may train (frozen inputs and norm): then nothing flows back through the function.
        grads = (torch.autograd.grad(output, [inputs[i] for i in wanted], grad_output, allow_unused=True)
                 if wanted else [])
        result = [None] * len(inputs)
        for position, grad in zip(wanted, grads, strict=True):
            result[position] = grad
        return (None, grad_weight, grad_bias, *result)


def _needs_graph(tensors) -> bool:
    return torch.is_grad_enabled() and any(isinstance(x, torch.Tensor) and x.requires_grad for x in tensors)


def recomputed(function: Callable[..., torch.Tensor], *inputs) -> torch.Tensor:
    """`function(*inputs)` (one tensor out), saving only `inputs` for backward when a gradient is needed."""
    if not _needs_graph(inputs):
        return function(*inputs)
    return _Recomputed.apply(function, None, None, *inputs)


def linear_of_recomputed(layer: nn.Module, function: Callable[..., torch.Tensor], *inputs) -> torch.Tensor:
    """`layer(function(*inputs))`, saving for backward only `inputs` and the layer's weight: `function`'s result,
    the layer's input, is recomputed. `layer` other than a plain linear layer (peft's LoRA wrapper, say) is called
    as it is, after `recomputed(function, *inputs)`."""
    if type(layer) not in (nn.Linear, Linear):
        return layer(recomputed(function, *inputs))
    if not _needs_graph((*inputs, layer.weight, layer.bias)):
        return layer(function(*inputs))
    return _Recomputed.apply(function, layer.weight, layer.bias, *inputs)
