"""Pure-PyTorch SSM kernels: the slow path, used on CPU and wherever mamba-ssm is absent.

"Slow" names the path, not the speed. Each scan is written for the CPU's memory hierarchy:
- Mamba (selective scan, a decay per channel and state) runs a cache-blocked recurrence: decays and inputs of a
  block of steps are materialised together, then one fused multiply-add per step walks the block in place.
- Mamba2 (SSD, a scalar decay per head) runs the chunked state-space-duality form, written as batched matmuls and
  computing the B.C scores once per group instead of once per head.
All scans accumulate in float32, or float64 for float64 inputs (see `accumulation_dtype`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .causal_conv import causal_conv1d_silu
from .conv_ssd import ConvSSDScanFunction, SSDLayout
from .ssd_chunked import SSDScanFunction, ssd_forward
from .threads import backward_on_fitted_threads

# Steps of the Mamba recurrence materialised at once: 16 beat 8, 32 and 64 (benchmarks/bench_kernels.py).
SELECTIVE_SCAN_BLOCK = 16
# SSD chunk length on CPU. The result does not depend on it; 64 beat 32, 128 and 256 (the config's GPU value) at
# L=1500 for d_state 128 and 512 (benchmarks/bench_kernels.py): the per-chunk [Q, Q] decay matrix costs O(L * Q)
# exponentials, while the state work per chunk is fixed.
SSD_CPU_CHUNK = 64


def accumulation_dtype(tensor: torch.Tensor) -> torch.dtype:
    """float32 for half-precision and float32 inputs; float64 stays float64 (the conversion check runs there)."""
    return torch.promote_types(tensor.dtype, torch.float32)


def outside_autocast(scan):
    """Run `scan` with autocast off on its inputs' device: the scans pick their own accumulation dtype, and under
    bf16 autocast their matmuls would otherwise round the float32 states to bf16."""
    @functools.wraps(scan)
    def wrapper(first, *args, **kwargs):
        with torch.autocast(first.device.type, enabled=False):
            return scan(first, *args, **kwargs)
    return wrapper


def causal_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  conv_state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Depthwise causal convolution + SiLU over `x` [B, C, L], continuing from `conv_state` [B, C, K].

    Returns the output [B, C, L] and the new state: the last K inputs, zero-padded on the left.
    """
    kernel = weight.shape[-1]
    seq_len = x.shape[-1]
    if conv_state is None:
        # The layers' activations are [B, L, C]: x is a transposed view of them, and so is the result.
        out = causal_conv1d_silu(x.transpose(1, 2), weight, bias).transpose(1, 2)
        history = x
    else:
        history = torch.cat([conv_state[..., 1:].to(x.dtype), x], dim=-1)
        out = F.silu(F.conv1d(history, weight.unsqueeze(1).to(x.dtype), bias, groups=x.shape[1])[..., -seq_len:])
    return out, conv_window(history, kernel)


def conv_window(history: torch.Tensor, kernel: int) -> torch.Tensor:
    """The convolution state after `history` [B, C, T]: its last `kernel` inputs, zero-padded on the left."""
    window = history[..., -kernel:] if history.shape[-1] >= kernel else F.pad(history, (kernel - history.shape[-1], 0))
    return window.contiguous()


def causal_conv1d_step(x: torch.Tensor, conv_state: torch.Tensor, weight: torch.Tensor,
                       bias: torch.Tensor | None) -> torch.Tensor:
    """One step of `causal_conv1d`: `x` [B, C], `conv_state` [B, C, K] updated in place."""
    window = torch.cat([conv_state[..., 1:], x.unsqueeze(-1).to(conv_state.dtype)], dim=-1)
    conv_state.copy_(window)
    # A multiply and a sum: einsum would lower this to one tiny matmul per channel.
    out = (window * weight.to(window.dtype)).sum(-1)
    if bias is not None:
        out = out + bias
    return F.silu(out).to(x.dtype)


def _blocked_recurrence(inputs: torch.Tensor, decay: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """h_t = decay_t * h_{t-1} + inputs_t over the leading (time) axis, written into `inputs` in place."""
    inputs[0].addcmul_(decay[0], state)
    for t in range(1, inputs.shape[0]):
        inputs[t].addcmul_(decay[t], inputs[t - 1])
    return inputs


def _selective_block(u, delta, A, B, start, stop, state):
    """The states [T, B, D, N] of steps start..stop, continuing from `state`, and their decays."""
    # Time-major so that each step reads and writes one contiguous [B, D, N] slab.
    delta_blk = delta[..., start:stop].permute(2, 0, 1)  # [T, B, D]
    decay = torch.exp(delta_blk.unsqueeze(-1) * A)  # [T, B, D, N]
    states = (delta_blk * u[..., start:stop].permute(2, 0, 1)).unsqueeze(-1) \
        * B[..., start:stop].permute(2, 0, 1).unsqueeze(2)  # holds B*u*dt until the recurrence runs over it
    return _blocked_recurrence(states, decay, state), decay


def _selective_scan_states(u, delta, A, B, C, state, block, boundaries=None):
    """sum_n h_t C_t [B, D, L] and the final state; `boundaries` [blocks, B, D, N], if given, receives the state
    entering each block (what the backward pass recomputes from)."""
    outputs = []
    for index, start in enumerate(range(0, u.shape[-1], block)):
        if boundaries is not None:
            boundaries[index] = state
        stop = min(start + block, u.shape[-1])
        states, _ = _selective_block(u, delta, A, B, start, stop, state)
        state = states[-1]
        c_blk = C[..., start:stop].permute(2, 0, 1).unsqueeze(-1)  # [T, B, N, 1]
        outputs.append(torch.matmul(states, c_blk).squeeze(-1))  # [T, B, D]
    return torch.cat(outputs, dim=0).permute(1, 2, 0), state


class SelectiveScanFunction(torch.autograd.Function):
    """The selective recurrence with a hand-written backward, as mamba-ssm's kernel does it.

    The forward saves only its inputs and the state entering each block of `block` steps. The backward walks the
    blocks from the end: it recomputes the block's states from its boundary (one fused multiply-add per step), runs
    the adjoint recurrence dh_t = dy_t C_t + decay_{t+1} dh_{t+1} in place, and turns both into the gradients with a
    few batched products. Autograd through the forward would instead keep every [T, B, D, N] block alive.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, initial_state, block):
        batch, channels, seq_len = u.shape
        boundaries = u.new_empty((-(-seq_len // block), batch, channels, A.shape[-1]))
        state = initial_state if initial_state is not None else u.new_zeros(batch, channels, A.shape[-1])
        y, final = _selective_scan_states(u, delta, A, B, C, state, block, boundaries)
        ctx.save_for_backward(u, delta, A, B, C, boundaries)
        ctx.block, ctx.has_initial = block, initial_state is not None
        return y, final.clone()

    @staticmethod
    @backward_on_fitted_threads
    def backward(ctx, grad_y, grad_final):
        u, delta, A, B, C, boundaries = ctx.saved_tensors
        batch, channels, seq_len = u.shape
        grad_y = torch.zeros_like(u) if grad_y is None else grad_y
        carry = u.new_zeros(boundaries.shape[1:]) if grad_final is None else grad_final.clone()
        grad_u, grad_delta = u.new_empty(seq_len, batch, channels), u.new_empty(seq_len, batch, channels)
        grad_B, grad_C = B.new_empty(seq_len, batch, B.shape[1]), C.new_empty(seq_len, batch, C.shape[1])
        grad_A = torch.zeros_like(A)
        starts = list(range(0, seq_len, ctx.block))
        for index in reversed(range(len(starts))):
            start = starts[index]
            stop = min(start + ctx.block, seq_len)
            states, decay = _selective_block(u, delta, A, B, start, stop, boundaries[index])
            delta_blk, u_blk = delta[..., start:stop].permute(2, 0, 1), u[..., start:stop].permute(2, 0, 1)
            b_blk, c_blk = B[..., start:stop].permute(2, 0, 1), C[..., start:stop].permute(2, 0, 1)  # [T, B, N]
            dy = grad_y[..., start:stop].permute(2, 0, 1)  # [T, B, D]
            grad_C[start:stop] = torch.matmul(dy.unsqueeze(-2), states).squeeze(-2)
            # Adjoint recurrence, backwards in time: dh_t = dy_t C_t + decay_{t+1} dh_{t+1}.
            adjoint = dy.unsqueeze(-1) * c_blk.unsqueeze(2)  # [T, B, D, N]
            adjoint[-1].add_(carry)
            for t in range(stop - start - 2, -1, -1):
                adjoint[t].addcmul_(decay[t + 1], adjoint[t + 1])
            carry = decay[0] * adjoint[0]
            scaled_input = delta_blk * u_blk
            grad_input = torch.matmul(adjoint, b_blk.unsqueeze(-1)).squeeze(-1)  # d(delta * u) [T, B, D]
            grad_B[start:stop] = torch.matmul(scaled_input.unsqueeze(-2), adjoint).squeeze(-2)
            # d(log decay) = dh_t * decay_t * h_{t-1}, built in the buffer of the shifted states.
            grad_log_decay = torch.cat([boundaries[index].unsqueeze(0), states[:-1]]).mul_(decay).mul_(adjoint)
            grad_delta[start:stop] = (grad_log_decay * A).sum(-1) + grad_input * u_blk
            grad_u[start:stop] = grad_input * delta_blk
            grad_A += (grad_log_decay * delta_blk.unsqueeze(-1)).sum((0, 1))
        return (grad_u.permute(1, 2, 0), grad_delta.permute(1, 2, 0), grad_A, grad_B.permute(1, 2, 0),
                grad_C.permute(1, 2, 0), carry if ctx.has_initial else None, None)


@outside_autocast
def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor, z: torch.Tensor | None, initial_state: torch.Tensor | None = None,
                   block: int = SELECTIVE_SCAN_BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """Mamba's selective scan. `u`, `delta`, `z`: [B, D, L] (delta already softplus-ed); `A`: [D, N];
    `B`, `C`: [B, N, L]; `D`: [D]. Returns y [B, D, L] and the final state [B, D, N] in the accumulation dtype.

    Differentiable through `SelectiveScanFunction`; without gradients the recurrence runs in place directly."""
    acc = accumulation_dtype(u)
    u32, delta32, A32, B32, C32 = (t.to(acc) for t in (u, delta, A, B, C))
    state = initial_state.to(acc) if initial_state is not None else None
    leaves = (u32, delta32, A32, B32, C32, state)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in leaves):
        y, state = SelectiveScanFunction.apply(*leaves, block)
    else:
        if state is None:
            state = u32.new_zeros(u.shape[0], u.shape[1], A.shape[-1])
        y, state = _selective_scan_states(u32, delta32, A32, B32, C32, state, block)
        state = state.clone()
    y = y + u32 * D.to(acc)[:, None]
    if z is not None:
        y = y * F.silu(z.to(acc))
    return y.to(u.dtype), state


def selective_state_step(state: torch.Tensor, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor,
                         B: torch.Tensor, C: torch.Tensor, D: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
    """One step of the selective scan; `state` [B, D, N] is updated in place. `u`, `delta`, `z`: [B, D]; `B`, `C`:
    [B, N]."""
    dtype = state.dtype
    decay = torch.exp(delta.to(dtype).unsqueeze(-1) * A.to(dtype))
    state.mul_(decay).add_((delta * u).to(dtype).unsqueeze(-1) * B.to(dtype).unsqueeze(1))
    y = torch.bmm(state, C.to(dtype).unsqueeze(-1)).squeeze(-1) + u.to(dtype) * D.to(dtype)
    if z is not None:
        y = y * F.silu(z.to(dtype))
    return y.to(u.dtype)


@outside_autocast
def ssd_scan(x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
             D: torch.Tensor, chunk_size: int, initial_state: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mamba2's chunked scan (`ssd_chunked`). `x`: [B, L, H, P]; `dt`: [B, L, H] (softplus-ed); `A`, `D`: [H];
    `B`, `C`: [B, L, G, N]. Returns y [B, L, H, P] and the final state [B, H, P, N] in the accumulation dtype.

    Heads of a group share B and C, so the products with B and C fold the heads into the matrix dimension
    ([Q, N] x [N, heads * P]) instead of broadcasting B and C over a batch of heads, which would copy them per head.
    With gradients it runs through `SSDScanFunction`, whose backward recomputes instead of saving.
    """
    acc = accumulation_dtype(x)
    inputs = [t.to(acc) for t in (x, dt, A, B, C)] + [initial_state.to(acc) if initial_state is not None else None]
    Q = min(chunk_size, SSD_CPU_CHUNK)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        y, state = SSDScanFunction.apply(*inputs, Q)
    else:
        y, state = ssd_forward(*inputs[:5], Q, inputs[5])
    y = y + inputs[0] * D.to(acc)[:, None]
    return y.to(x.dtype), state


@outside_autocast
def conv_ssd_scan(xBC: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dt: torch.Tensor,
                  A: torch.Tensor, D: torch.Tensor, chunk_size: int, layout: SSDLayout,
                  initial_state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """SiLU(causal conv(xBC)) split by `layout` into x, B, C, then `ssd_scan`, as one Function that keeps only xBC
    for backward (`conv_ssd.py`). `xBC` [B, L, channels] (before the convolution), `weight` [channels, K]; the rest
    as in `ssd_scan`. Returns y [B, L, H, P] in xBC's dtype and the final state in the accumulation dtype."""
    acc = accumulation_dtype(xBC)
    return ConvSSDScanFunction.apply(xBC, weight, bias, dt.to(acc), A.to(acc), D.to(acc),
                                     None if initial_state is None else initial_state.to(acc), layout,
                                     min(chunk_size, SSD_CPU_CHUNK), acc)


# Decode steps whose rank-1 updates are held back before being folded into a Mamba2 state (see ssd_state_step).
SSD_DEFERRED_STEPS = 16
# Below this many state elements per batch row (heads * P * N) the state stays in cache between the decay, the
# update and the readout, and the plain in-place step has fewer ops (the paper size has 1M, the medium one 131k).
SSD_DEFER_MIN_STATE = 1 << 19


@dataclass
class DeferredUpdates:
    """The latest decode steps of a Mamba2 state, not yet folded into it: the PyTorch step's own state, kept beside
    the cached `ssm_state` (as `SSMState.kernel_state`) and folded by `kernels.settle`. Rows are (batch, group)
    pairs."""

    inputs: torch.Tensor  # [B*G, W, heads_per_group * P]: x * dt of each held step
    keys: torch.Tensor  # [B*G, W, N]: B of each held step
    log_decay: torch.Tensor  # [B*G, W, heads_per_group]: summed log decay from the last fold to each held step
    count: int = 0

    @classmethod
    def empty(cls, state: torch.Tensor, groups: int, window: int = SSD_DEFERRED_STEPS) -> DeferredUpdates:
        batch, heads, head_dim, state_size = state.shape
        rows, per_group = batch * groups, heads // groups
        new = lambda *shape: torch.zeros(rows, window, *shape, dtype=torch.float32, device=state.device)  # noqa: E731
        return cls(new(per_group * head_dim), new(state_size), new(per_group))

    def fold_into(self, state: torch.Tensor) -> None:
        """Apply the held steps to `state` in place: decay it to now, then add every held rank-1 update at once."""
        count = self.count
        if count == 0:
            return
        rows, _, per_group = self.log_decay.shape
        head_dim, state_size = state.shape[-2:]
        total = self.log_decay[:, count - 1]
        state.view(rows, per_group, head_dim, state_size).mul_(torch.exp(total).to(state.dtype)[..., None, None])
        weights = torch.exp(total.unsqueeze(1) - self.log_decay[:, :count])  # decay from each step to now
        scaled = (self.inputs[:, :count].view(rows, count, per_group, head_dim) * weights.unsqueeze(-1))
        state.view(rows, per_group * head_dim, state_size).baddbmm_(
            scaled.view(rows, count, -1).transpose(1, 2).to(state.dtype), self.keys[:, :count].to(state.dtype))
        self.count = 0


def ssd_state_step(state: torch.Tensor, x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                   C: torch.Tensor, D: torch.Tensor, deferred: DeferredUpdates) -> torch.Tensor:
    """One step of Mamba2. `state` [B, H, P, N] plus the steps held in `deferred` form the recurrent state;
    `x`: [B, H, P]; `dt`: [B, H]; `B`, `C`: [B, G, N]. Returns y [B, H, P].

    Decoding is bound by memory traffic over the state (8 MB a layer at the paper's size). Updating it every step
    reads and writes it twice (decay, then rank-1 add) and reads it once more for the output. Instead the step is
    held in `deferred` and the output is assembled from one read of the state, decayed to now, plus the held steps'
    small contributions; every `SSD_DEFERRED_STEPS` steps they are folded in with one rank-W update. Each group's
    heads form one [heads * P, N] matrix, read by a single matrix-vector product.
    """
    batch, heads, head_dim, state_size = state.shape
    groups = B.shape[1]
    rows, per_group = batch * groups, heads // groups
    if heads * head_dim * state_size < SSD_DEFER_MIN_STATE and deferred.count == 0:
        return _ssd_state_step_in_place(state, x, dt, A, B, C, D)
    held = deferred.count
    step_log_decay = (dt.float() * A.float()).reshape(rows, per_group)
    total = step_log_decay + (deferred.log_decay[:, held - 1] if held else 0.0)
    deferred.log_decay[:, held] = total
    deferred.inputs[:, held] = (x.float() * dt.float().unsqueeze(-1)).reshape(rows, -1)
    deferred.keys[:, held] = B.float().reshape(rows, state_size)
    deferred.count = held = held + 1

    readout = C.float().reshape(rows, state_size)
    grouped = state.view(rows, per_group * head_dim, state_size)
    readout_state = readout.to(state.dtype)
    # torch.mv per row: MKL's batched matrix-vector bmm is ~10x slower here in float32.
    y = torch.stack([torch.mv(grouped[i], readout_state[i]) for i in range(rows)]).float()
    y = y.view(rows, per_group, head_dim) * torch.exp(total).unsqueeze(-1)
    overlap = torch.bmm(deferred.keys[:, :held], readout.unsqueeze(-1))  # B_i . C for every held step: [rows, k, 1]
    weights = torch.exp(total.unsqueeze(1) - deferred.log_decay[:, :held]) * overlap
    y = y + (weights.unsqueeze(-1) * deferred.inputs[:, :held].view(rows, held, per_group, head_dim)).sum(1)
    if held == deferred.inputs.shape[1]:
        deferred.fold_into(state)
    return (y.view(batch, heads, head_dim) + x.float() * D.float()[:, None]).to(x.dtype)


def _ssd_state_step_in_place(state, x, dt, A, B, C, D) -> torch.Tensor:
    """The plain step for small states: decay, rank-1 update and readout, each over one [heads * P, N] matrix per
    group."""
    batch, heads, head_dim, state_size = state.shape
    rows = batch * B.shape[1]
    dtype = state.dtype
    state.mul_(torch.exp(dt.to(dtype) * A.to(dtype))[..., None, None])
    grouped = state.view(rows, -1, state_size)
    grouped.baddbmm_((x * dt.unsqueeze(-1)).to(dtype).reshape(rows, -1, 1), B.to(dtype).reshape(rows, 1, state_size))
    readout = C.to(dtype).reshape(rows, state_size)
    y = torch.stack([torch.mv(grouped[i], readout[i]) for i in range(rows)]).view(batch, heads, head_dim)
    return (y.float() + x.float() * D.float()[:, None]).to(x.dtype)
