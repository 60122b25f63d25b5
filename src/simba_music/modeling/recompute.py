"""Run a cheap function without keeping its intermediate tensors for backward: only its inputs are saved, and the
backward pass runs it again under autograd.

Why: in a training step of the PyTorch path, the Mamba2 layer's elementwise tail kept more activations than the
attention it replaces (issue 16's memory target). The gated RMSNorm kept silu(z), y * silu(z) and the normed product,
about 1,500 floats per token per layer at d 256, all recomputable from inputs that are kept anyway (the in_proj
output and the scan output). Recomputing them costs a few elementwise passes, far less than the matmuls around them.
(The causal convolution does the same in its own hand-written backward, `causal_conv.py`.)

Like `torch.utils.checkpoint`, but one small function at a time and with no per-call bookkeeping. The autocast
state of the forward is restored for the recomputation, so bf16 autocast recomputes the same bf16 values.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class _Recomputed(torch.autograd.Function):
    @staticmethod
    def forward(ctx, function, *inputs):
        ctx.function = function
        ctx.device_type = next(x.device.type for x in inputs if isinstance(x, torch.Tensor))
        ctx.autocast = (torch.is_autocast_enabled(ctx.device_type), torch.get_autocast_dtype(ctx.device_type))
        ctx.tensor_positions = [i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor)]
        ctx.others = [None if isinstance(x, torch.Tensor) else x for x in inputs]
        ctx.save_for_backward(*(inputs[i] for i in ctx.tensor_positions))
        with torch.no_grad():
            return function(*inputs)

    @staticmethod
    def backward(ctx, grad_output):
        inputs = list(ctx.others)
        for position, saved in zip(ctx.tensor_positions, ctx.saved_tensors, strict=True):
            inputs[position] = saved.detach().requires_grad_(ctx.needs_input_grad[position + 1])
        enabled, dtype = ctx.autocast
        with torch.enable_grad(), torch.autocast(ctx.device_type, dtype=dtype, enabled=enabled):
            output = ctx.function(*inputs)
        wanted = [i for i in ctx.tensor_positions if ctx.needs_input_grad[i + 1]]
        grads = torch.autograd.grad(output, [inputs[i] for i in wanted], grad_output, allow_unused=True)
        result = [None] * len(inputs)
        for position, grad in zip(wanted, grads, strict=True):
            result[position] = grad
        return (None, *result)


def recomputed(function: Callable[..., torch.Tensor], *inputs) -> torch.Tensor:
    """`function(*inputs)` (one tensor out), saving only `inputs` for backward when a gradient is needed."""
    if not torch.is_grad_enabled() or not any(isinstance(x, torch.Tensor) and x.requires_grad for x in inputs):
        return function(*inputs)
    return _Recomputed.apply(function, *inputs)
