"""Mamba2's chunked state-space-duality scan on the PyTorch path, with a hand-written backward.

Shapes: `x` [B, L, H, P]; `dt` [B, L, H] (softplus-ed); `A` [H]; `B`, `C` [B, L, G, N]; states [B, H, P, N]. The
scan computes y without the skip term D * x, which its caller adds. Inside, sequences are padded to chunks of Q steps
and laid out per chunk as b, c (chunk), q (step), g (group), h (head of the group), p, n.

Per chunk, with cum the running sum of dt * A within the chunk:
- within the chunk: y_l += sum_{s <= l} exp(cum_l - cum_s) (C_l . B_s) x_s dt_s;
- from the state S carried in: y_l += exp(cum_l) C_l . S;
- carried out: S' = exp(cum_last) S + sum_s exp(cum_last - cum_s) x_s dt_s B_s^T.

`SSDScanFunction.backward` follows these three equations backwards. It saves only the inputs and recomputes the
chunk-local pieces (scores, decays, carried states), where autograd through the forward would keep ~20 tensors per
layer, several of them [Q, Q] per head and chunk.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .threads import backward_on_fitted_threads


class _Chunks:
    """The padded, chunked views of one scan's inputs, shared by the forward and the backward."""

    def __init__(self, x, dt, A, B, C, Q):
        batch, self.seq_len, heads, self.head_dim = x.shape
        self.groups, self.state_size = B.shape[-2:]
        self.per_group, self.Q = heads // self.groups, Q
        pad = (-self.seq_len) % Q
        # Padded steps carry dt = 0: no input and a decay of exp(0) = 1, so they leave the state untouched.
        self.x = F.pad(x, (0, 0, 0, 0, 0, pad))
        self.dt = F.pad(dt, (0, 0, 0, pad))
        self.chunks = self.x.shape[1] // Q
        shape = (batch, self.chunks, Q, self.groups, self.per_group)
        self.batch = batch
        self.Bg = self.grouped(B, pad)  # [b, c, g, Q, N]
        self.Cg = self.grouped(C, pad)
        self.xdt = (self.x * self.dt.unsqueeze(-1)).view(*shape, self.head_dim)  # [b, c, Q, g, h, P]
        self.cum = torch.cumsum((self.dt * A).view(shape), dim=2)  # [b, c, Q, g, h]
        self.decay_to_end = torch.exp(self.cum[:, :, -1:] - self.cum).unsqueeze(-1)  # [b, c, Q, g, h, 1]
        self.chunk_decay = torch.exp(self.cum[:, :, -1])  # [b, c, g, h]

    def grouped(self, tensor, pad):
        return F.pad(tensor, (0, 0, 0, 0, 0, pad)).view(
            self.batch, -1, self.Q, self.groups, self.state_size).transpose(2, 3)

    def head_major(self, tensor):
        """[b, c, Q, g, h, P] -> [b, c, g, h, Q, P]."""
        return tensor.permute(0, 1, 3, 4, 2, 5)

    def intra_scores(self):
        """C_l . B_s once per group, broadcast over its heads: [b, c, g, 1, Q, Q]."""
        return torch.matmul(self.Cg, self.Bg.transpose(-1, -2)).unsqueeze(3)

    def intra_decays(self):
        """exp(cum_l - cum_s) for s <= l, else 0: [b, c, g, h, Q, Q], made in place (one [Q, Q] per head and chunk
        is the scan's largest tensor: 12 MB per layer at the tiny size, 50 MB at the paper's)."""
        cum_heads = self.cum.permute(0, 1, 3, 4, 2)
        future = torch.ones(self.Q, self.Q, dtype=torch.bool, device=self.x.device).triu(1)
        return (cum_heads.unsqueeze(-1) - cum_heads.unsqueeze(-2)).masked_fill_(future, float("-inf")).exp_()

    def weighted_inputs(self):
        """x dt decayed to the end of the chunk, heads folded into the matrix dimension: [b, c, g, Q, h * P]."""
        return (self.xdt * self.decay_to_end).view(
            self.batch, self.chunks, self.Q, self.groups, -1).transpose(2, 3)

    def carried_states(self, state, weighted):
        """The states around every chunk [b, c + 1, g, h * P, N] (the state entering chunk k at k, the final state
        last) and C_l . S for each chunk's steps [b, c, g, Q, h * P], S the state entering the chunk.

        What each chunk adds to the state is one batched product over all chunks; only the decay-and-add runs chunk
        by chunk, in place, so the loop is one op per chunk instead of a chain of small products."""
        b, c, g, N = self.batch, self.chunks, self.groups, self.state_size
        states = weighted.new_empty(b, c + 1, g, weighted.shape[-1], N)
        states[:, 0] = state.view(b, g, -1, N)
        torch.matmul(weighted.transpose(-1, -2), self.Bg, out=states[:, 1:])
        for k in range(c):
            self.per_head(states[:, k + 1]).addcmul_(self.per_head(states[:, k]),
                                                     self.chunk_decay[:, k, ..., None, None])
        return states, torch.matmul(self.Cg, states[:, :-1].transpose(-1, -2))

    def per_head(self, flat):
        """[..., g, h * P, N] -> [..., g, h, P, N]."""
        return flat.unflatten(-2, (self.per_group, self.head_dim))

    def from_chunks(self, tensor):
        """[b, c, Q, ...] -> [b, L, ...] without the padding."""
        return tensor.reshape(self.batch, self.chunks * self.Q, *tensor.shape[3:])[:, :self.seq_len]


def ssd_forward(x, dt, A, B, C, Q, initial_state=None):
    """y [B, L, H, P] (without D) and the final state [B, H, P, N]; no gradients."""
    ch = _Chunks(x, dt, A, B, C, Q)
    weights = ch.intra_decays().mul_(ch.intra_scores())
    y_diag = torch.matmul(weights, ch.head_major(ch.xdt))  # [b, c, g, h, Q, P]
    state = (x.new_zeros(ch.batch, ch.groups, ch.per_group, ch.head_dim, ch.state_size) if initial_state is None
             else initial_state.reshape(ch.batch, ch.groups, ch.per_group, ch.head_dim, ch.state_size))
    states, readouts = ch.carried_states(state, ch.weighted_inputs())
    state = states[:, -1].clone()  # not a view: it would keep every chunk's state alive
    y_off = readouts.view(ch.batch, ch.chunks, ch.groups, Q, ch.per_group, ch.head_dim) \
        * torch.exp(ch.cum).permute(0, 1, 3, 2, 4).unsqueeze(-1)
    y = (y_off + y_diag.transpose(3, 4)).transpose(2, 3)  # [b, c, Q, g, h, P]
    return ch.from_chunks(y.reshape(ch.batch, ch.chunks, Q, -1, ch.head_dim)), state.reshape(
        ch.batch, -1, ch.head_dim, ch.state_size)


class SSDScanFunction(torch.autograd.Function):
    """`ssd_forward` with a hand-written backward that recomputes chunk-local intermediates (see module doc)."""

    @staticmethod
    def forward(ctx, x, dt, A, B, C, initial_state, Q):
        y, final = ssd_forward(x, dt, A, B, C, Q, initial_state)
        ctx.save_for_backward(x, dt, A, B, C, initial_state)
        ctx.Q = Q
        return y, final

    @staticmethod
    @backward_on_fitted_threads
    def backward(ctx, grad_y, grad_final):
        return *ssd_backward(*ctx.saved_tensors, ctx.Q, grad_y, grad_final), None


def ssd_backward(x, dt, A, B, C, initial_state, Q, grad_y, grad_final):
    """Gradients of `ssd_forward` for x, dt, A, B, C and the initial state (None if it is None), given those of y and
    the final state (either may be None)."""
    ch = _Chunks(x, dt, A, B, C, Q)
    b, c, Q, g, h, P, N = ch.batch, ch.chunks, ch.Q, ch.groups, ch.per_group, ch.head_dim, ch.state_size
    grad_y = torch.zeros_like(x) if grad_y is None else grad_y
    gy = F.pad(grad_y, (0, 0, 0, 0, 0, Q * c - ch.seq_len)).view(b, c, Q, g, h, P)

    # Within chunks: y = W @ xdt with W = decays * scores. The order keeps two [Q, Q]-per-head tensors alive at
    # a time, not four: the gradient of W is scaled in place, and W is built over the decays once they are used.
    gy_heads = ch.head_major(gy)  # [b, c, g, h, Q, P]
    grad_weights = torch.matmul(gy_heads, ch.head_major(ch.xdt).transpose(-1, -2))  # [b, c, g, h, Q, Q]
    decays, scores = ch.intra_decays(), ch.intra_scores()
    grad_weights.mul_(decays)  # now d(scores), per head
    grad_scores = grad_weights.sum(3)  # [b, c, g, Q, Q]
    grad_C = torch.matmul(grad_scores, ch.Bg)  # [b, c, g, Q, N]
    grad_B = torch.matmul(grad_scores.transpose(-1, -2), ch.Cg)
    del grad_scores
    weights = decays.mul_(scores)
    grad_xdt = torch.matmul(weights.transpose(-1, -2), gy_heads).permute(0, 1, 4, 2, 3, 5)  # [b, c, Q, g, h, P]
    del weights, decays
    grad_segment = grad_weights.mul_(scores)  # d(W) * W: d(cum_l - cum_s)
    grad_cum = (grad_segment.sum(-1) - grad_segment.sum(-2)).permute(0, 1, 4, 2, 3)  # [b, c, Q, g, h]
    del grad_segment, grad_weights

    # From the carried state: y_l += exp(cum_l) C_l . S_c. From here on each [L, heads * P]-sized tensor is freed
    # (del) or overwritten (in-place) as soon as it is used: a layer's backward otherwise holds a dozen of them at
    # once, which made this scan the peak of a training step's memory.
    weighted = ch.weighted_inputs()
    state = (x.new_zeros(b, g, h, P, N) if initial_state is None else initial_state.reshape(b, g, h, P, N))
    states, readouts = ch.carried_states(state, weighted)
    exp_cum = torch.exp(ch.cum).permute(0, 1, 3, 2, 4).unsqueeze(-1)  # [b, c, g, Q, h, 1]
    grad_readouts = (gy.transpose(2, 3) * exp_cum).reshape(b, c, g, Q, h * P)
    del gy, gy_heads, exp_cum
    grad_cum += readouts.mul_(grad_readouts).view(b, c, g, Q, h, P).sum(-1).transpose(2, 3)
    del readouts

    # Across chunks, last to first: S_{k+1} = decay_k S_k + weighted_k^T B_k, and chunk k reads S_k. The
    # gradients dS_k = decay_k dS_{k+1} + grad_readouts_k^T C_k are built in place over the batched readout terms,
    # laid out like `states` (dS_k at k, the final state's last); the rest is one product over all chunks. This
    # holds a second set of chunk states beside `states` (about 100 MB per layer at the paper's size, batch 1):
    # batched products cost 4-6% less time per training step than a loop over chunks (benchmarks/README.md).
    grad_states = x.new_empty(b, c + 1, g, h * P, N)
    grad_states[:, c] = 0 if grad_final is None else grad_final.reshape(b, g, h * P, N)
    torch.matmul(grad_readouts.transpose(-1, -2), ch.Cg, out=grad_states[:, :-1])
    for k in reversed(range(c)):
        ch.per_head(grad_states[:, k]).addcmul_(ch.per_head(grad_states[:, k + 1]),
                                                ch.chunk_decay[:, k, ..., None, None])
    entering, grad_leaving = states[:, :-1], grad_states[:, 1:]
    grad_C += torch.matmul(grad_readouts, entering)
    del grad_readouts
    grad_B += torch.matmul(weighted, grad_leaving)
    del weighted
    # Per head, the dot product of dS_{k+1} and S_k, as a batch of [1, P * N] x [P * N, 1] products.
    grad_chunk_decay = torch.matmul(grad_leaving.view(b, c, g, h, 1, P * N),
                                    entering.view(b, c, g, h, P * N, 1)).view(b, c, g, h)
    grad_cum[:, :, -1] += grad_chunk_decay * ch.chunk_decay
    grad_weighted = torch.matmul(ch.Bg, grad_leaving.transpose(-1, -2))  # [b, c, g, Q, h * P]
    # A copy, not a view: a view would keep every chunk's gradient alive as long as the returned gradient.
    grad_initial = grad_states[:, 0].reshape(b, g * h, P, N).clone() if initial_state is not None else None
    del states, entering, grad_states, grad_leaving
    grad_weighted = grad_weighted.view(b, c, g, Q, h, P).transpose(2, 3)  # [b, c, Q, g, h, P]
    grad_xdt.addcmul_(grad_weighted, ch.decay_to_end)
    grad_to_end = grad_weighted.mul_(ch.xdt).sum(-1) * ch.decay_to_end.squeeze(-1)  # d(cum_last - cum_s)
    del grad_weighted
    grad_cum -= grad_to_end
    grad_cum[:, :, -1] += grad_to_end.sum(2)

    # cum = cumsum(dt * A) within the chunk; xdt = x * dt.
    grad_dtA = grad_cum.flip(2).cumsum(2).flip(2).reshape(b, c * Q, g * h)
    grad_xdt = grad_xdt.reshape(b, c * Q, g * h, P)
    # sum_p grad_xdt * x as a batch of [1, P] x [P, 1] products: no [L, heads, P] temporary.
    grad_dt = grad_dtA * A + torch.matmul(grad_xdt.unsqueeze(-2), ch.x.unsqueeze(-1)).view(b, c * Q, g * h)
    grad_A = (grad_dtA * ch.dt).sum((0, 1))
    L = ch.seq_len
    grad_B = grad_B.transpose(2, 3).reshape(b, c * Q, g, N)[:, :L]
    grad_C = grad_C.transpose(2, 3).reshape(b, c * Q, g, N)[:, :L]
    return grad_xdt.mul_(ch.dt.unsqueeze(-1))[:, :L], grad_dt[:, :L], grad_A, grad_B, grad_C, grad_initial
