"""A plain re-implementation of the original SSM-TTM decoder forward, on the original tensors.

Written from the papers' description and `shared/DESIGN.md` §1, deliberately naive (a step-by-step SSM recurrence,
explicit attention, float64) and sharing no code with `simba_music.modeling`, so that agreement between the two is
evidence that the conversion is right. Input: codes [B, T] and text states [B, S, 768]; output: logits
[B, T + 1, V] from position S - 1 onward, as the original returns them (prefix variants), or [B, T, V] (the
cross-attention variants, whose sequence holds the audio only).

One part of the original is not in the released code and is assumed here and in our hybrid layers alike: a hybrid
layer blends its Mamba2 and self-attention branches as g * mamba + (1 - g) * attention with
g = sigmoid(fusion_gate([mamba; attention])).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _rms(x, weight, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def _linear(x, state, name, bias=True):
    return F.linear(x, state[f"{name}.weight"], state.get(f"{name}.bias") if bias else None)


def _mamba2(x, state, prefix, d_state, headdim=64, ngroups=1):
    in_proj = state[f"{prefix}in_proj.weight"]
    heads = state[f"{prefix}A_log"].shape[0]
    d_inner = heads * headdim
    zxbcdt = x @ in_proj.T
    z, xbc, dt = zxbcdt.split([d_inner, d_inner + 2 * ngroups * d_state, heads], dim=-1)
    weight, bias = state[f"{prefix}conv1d.weight"][:, 0], state[f"{prefix}conv1d.bias"]
    kernel = weight.shape[-1]
    padded = F.pad(xbc.transpose(1, 2), (kernel - 1, 0))
    conv = sum(padded[..., i:i + xbc.shape[1]] * weight[:, i, None] for i in range(kernel)) + bias[:, None]
    xbc = F.silu(conv).transpose(1, 2)
    xs, B, C = xbc.split([d_inner, ngroups * d_state, ngroups * d_state], dim=-1)
    dt = F.softplus(dt + state[f"{prefix}dt_bias"])
    A = -torch.exp(state[f"{prefix}A_log"])
    batch, length = x.shape[:2]
    xs = xs.view(batch, length, heads, headdim)
    h = torch.zeros(batch, heads, headdim, d_state, dtype=x.dtype)
    ys = []
    for t in range(length):
        h = (h * torch.exp(dt[:, t] * A)[..., None, None]
             + (dt[:, t, :, None] * xs[:, t])[..., None] * B[:, t, None, None, :])
        ys.append((h * C[:, t, None, None, :]).sum(-1) + state[f"{prefix}D"][:, None] * xs[:, t])
    y = torch.stack(ys, 1).reshape(batch, length, d_inner)
    y = _rms(y * F.silu(z), state[f"{prefix}norm.weight"])
    return y @ state[f"{prefix}out_proj.weight"].T


def _attention(x, source, state, prefix, heads, causal):
    d = x.shape[-1]
    q = x @ state[f"{prefix}to_q.weight"].T
    k, v = (source @ state[f"{prefix}to_kv.weight"].T).chunk(2, dim=-1)
    split = lambda t: t.view(t.shape[0], t.shape[1], heads, d // heads).transpose(1, 2)  # noqa: E731
    scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(d // heads)
    if causal:
        scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
    out = (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(x.shape)
    return _linear(out, state, f"{prefix}attention.to_out")


def _feed_forward(x, state, prefix):
    hidden = F.gelu(_linear(x, state, f"{prefix}feed_forward.0"))
    return _linear(hidden, state, f"{prefix}feed_forward.3")


def original_forward(state: dict, model_config: dict, codes: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
    state = {k: v.double() for k, v in state.items()}
    d_state = int(model_config.get("d_state", 128))
    heads = int(model_config.get("num_heads", 16))
    prefix_mode = bool(model_config.get("is_incontext", True))
    pure = bool(model_config.get("is_pure_mamba", False))
    attention_layers = set(int(i) for i in model_config.get("self_atten_layers", []) or [])
    layers = int(model_config.get("layers", 24))

    cond = _linear(condition.double(), state, "condition_linear")
    cond = F.layer_norm(cond, cond.shape[-1:], state["condition_norm.weight"], state["condition_norm.bias"])
    x = F.embedding(codes, state["embedding.0.weight"])
    h = torch.cat([cond, x], 1) if prefix_mode else x
    half = h.shape[-1] // 2
    positions = torch.arange(h.shape[1], dtype=torch.float64)[:, None]
    phase = positions / 10000 ** (torch.arange(half, dtype=torch.float64) / (half - 1))
    h = h + torch.cat([torch.cos(phase), torch.sin(phase)], -1)

    for i in range(layers):
        p = f"backbone.{i}."
        if pure:
            h = h + _mamba2(_rms(h, state[f"{p}norm.weight"]), state, f"{p}mamba.", d_state)
            continue
        if f"{p}mamba.norm.weight" in state:
            mamba = h + _mamba2(_rms(h, state[f"{p}mamba.norm.weight"]), state, f"{p}mamba.mamba.", d_state)
            if i in attention_layers and prefix_mode:
                attended = h + _self_attention(h, state, p, heads)
                gate = torch.sigmoid(_linear(torch.cat([mamba, attended], -1), state, f"{p}fusion_gate"))
                h = gate * mamba + (1 - gate) * attended
            else:
                h = mamba
        else:
            h = h + _self_attention(h, state, p, heads)
        if not prefix_mode:
            normed = _rms(h, state[f"{p}cross_atten.norm.weight"])
            h = h + _attention(normed, cond, state, f"{p}cross_atten.cross_atten.", heads, causal=False)
        h = h + _feed_forward(_rms(h, state[f"{p}ff.norm.weight"]), state, f"{p}ff.")

    logits = h @ state["lm_head.0.weight"].T
    return logits[:, cond.shape[1] - 1:] if prefix_mode else logits


def _self_attention(h, state, p, heads):
    normed = _rms(h, state[f"{p}self_atten.norm.weight"])
    return _attention(normed, normed, state, f"{p}self_atten.self_atten.", heads, causal=True)
