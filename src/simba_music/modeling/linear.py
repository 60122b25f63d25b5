"""`nn.Linear` that multiplies weight-major when only a few rows pass through it on the CPU.

A decode step sends a batch of single tokens (2 with classifier-free guidance) through every projection, so its time
is the time to stream the weights from memory. For such inputs `F.linear` computes x @ W^T, and MKL's GEMM runs that
shape at about half the memory bandwidth it reaches for W @ x^T, which walks W row by row (float32, 2 threads, a
[2320, 512] weight not in cache: 5 GB/s against 11 GB/s; `benchmarks/bench_kernels.py --only linear`). The product
is the same; only the summation order differs, so results agree to float32 rounding.

Where the weight-major form does not win, the module is `nn.Linear` unchanged: one row (both are a matrix-vector
product), more than `WEIGHT_MAJOR_MAX_ROWS` rows (training and prefill: GEMM-bound), half precision (on CPUs
without native bfloat16 GEMM the emulated W @ x^T is slower), autocast (which picks the dtype itself) and non-CPU
devices. Being a subclass, it keeps state-dict keys, `isinstance(module, nn.Linear)` checks and peft's LoRA wrapping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Up to this many rows the weight-major product was faster (2 threads, weights not in cache: 0.22-0.68x the time at
# 2-8 rows, 0.65-0.80x at 64); from a few hundred rows on the GEMM is compute-bound and the two tie (0.94-1.09x at
# 1,500 rows, forward and backward).
WEIGHT_MAJOR_MAX_ROWS = 64


def uses_weight_major(x: torch.Tensor, weight: torch.Tensor) -> bool:
    rows = x.numel() // max(x.shape[-1], 1)
    return (1 < rows <= WEIGHT_MAJOR_MAX_ROWS and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and not torch.is_autocast_enabled("cpu"))


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """`F.linear(x, weight, bias)`, computed weight-major for a few float32 rows on the CPU."""
    if not uses_weight_major(x, weight):
        return F.linear(x, weight, bias)
    # Both copies are of a few rows. A non-contiguous `rows` (the transposed output of another weight-major product,
    # passed through an elementwise op) makes rows.t() a plain [K, rows] operand, for which MKL's GEMM streams W at a
    # third of the speed (float32, 1 thread, [1024, 2048]: 89 vs 30 ms for 24 weights); a transposed output would
    # hand the same slow layout to the next layer and strided memory to every elementwise op between.
    rows = x.reshape(-1, x.shape[-1]).contiguous()
    out = torch.mm(weight, rows.t()) if bias is None else torch.addmm(bias.unsqueeze(-1), weight, rows.t())
    return out.t().contiguous().reshape(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """`nn.Linear` whose few-row CPU products stream the weight row by row (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
