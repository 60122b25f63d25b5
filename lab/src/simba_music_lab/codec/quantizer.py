"""Learning the residual vector quantizer of a transformers ``EncodecModel``.

Transformers stores each codebook as buffers of ``EncodecEuclideanCodebook`` (``embed``, ``embed_avg``,
``cluster_size``, ``inited``) and only implements inference. Here the same buffers are trained the way EnCodec
does it: k-means initialisation from real encoder frames, exponential-moving-average (EMA) codebook updates,
restarting dead codes from the current batch, a commitment loss, and a straight-through estimator. Because only the
stock buffers are touched, ``save_pretrained`` output loads unchanged with ``EncodecModel.from_pretrained``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def _nearest(vectors: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    distances = vectors.square().sum(1, keepdim=True) - 2 * vectors @ embed.t() + embed.square().sum(1)[None]
    return distances.argmin(dim=1)


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    # Codebooks are buffers, not parameters, so DDP would let them drift apart across processes.
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


def kmeans(vectors: torch.Tensor, num_clusters: int, iterations: int = 10, generator=None) -> torch.Tensor:
    """Lloyd's k-means; empty clusters are re-seeded from random vectors so that every code is usable."""
    if vectors.dim() != 2:
        raise ValueError(f"vectors must be (count, dim), got shape {tuple(vectors.shape)}")
    if vectors.shape[0] < num_clusters:
        raise ValueError(f"vectors: need at least num_clusters={num_clusters} vectors, got {vectors.shape[0]}")
    vectors = vectors.float()
    pick = torch.randperm(vectors.shape[0], generator=generator)[:num_clusters]
    centers = vectors[pick].clone()
    for _ in range(iterations):
        assignment = _nearest(vectors, centers)
        counts = torch.bincount(assignment, minlength=num_clusters).float()
        sums = torch.zeros_like(centers).index_add_(0, assignment, vectors)
        filled = counts > 0
        centers[filled] = sums[filled] / counts[filled, None]
        empty = (~filled).nonzero().squeeze(1)
        if empty.numel():
            centers[empty] = vectors[torch.randint(vectors.shape[0], (empty.numel(),), generator=generator)]
    return centers


@torch.no_grad()
def kmeans_init_quantizer(
    quantizer, latents: torch.Tensor, frames_per_step: int, iterations: int = 10, generator=None
) -> None:
    """Initialise every codebook on the residual its layer will see. ``latents``: encoder output (B, D, T).

    ``cluster_size`` is in units of uses per training step (what the EMA tracks), so the k-means counts are
    rescaled from the k-means sample size to ``frames_per_step``.
    """
    residual = latents.permute(0, 2, 1).reshape(-1, latents.shape[1]).float()
    for layer in quantizer.layers:
        codebook = layer.codebook
        num_codes = codebook.embed.shape[0]
        centers = kmeans(residual, num_codes, iterations, generator)
        assignment = _nearest(residual, centers)
        usage = torch.bincount(assignment, minlength=num_codes).float() * (frames_per_step / residual.shape[0])
        usage = usage.clamp(min=frames_per_step / num_codes / 10)
        codebook.embed.copy_(centers)
        codebook.cluster_size.copy_(usage)
        codebook.embed_avg.copy_(centers * usage[:, None])
        codebook.inited.fill_(1.0)
        residual = residual - centers[assignment]


@torch.no_grad()
def _ema_update(codebook, vectors: torch.Tensor, indices: torch.Tensor, decay: float, epsilon: float) -> None:
    num_codes = codebook.embed.shape[0]
    counts = _all_reduce_sum(torch.bincount(indices, minlength=num_codes).to(codebook.cluster_size.dtype))
    sums = _all_reduce_sum(torch.zeros_like(codebook.embed_avg).index_add_(0, indices,
                                                                           vectors.to(codebook.embed.dtype)))
    codebook.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
    codebook.embed_avg.mul_(decay).add_(sums, alpha=1 - decay)
    total = codebook.cluster_size.sum()
    # Laplace smoothing keeps rarely used codes from dividing by ~0.
    smoothed = (codebook.cluster_size + epsilon) / (total + num_codes * epsilon) * total
    codebook.embed.copy_(codebook.embed_avg / smoothed[:, None])


@torch.no_grad()
def _restart_dead_codes(codebook, vectors: torch.Tensor, dead_fraction: float, generator=None) -> int:
    """Codes whose EMA usage fell below ``dead_fraction`` of the uniform share are moved onto batch vectors.

    A restarted code gets the uniform share as its usage: a grace period of about ln(1/dead_fraction)/(1-decay)
    steps. Starting it at the threshold instead kills it again the next step it is not picked, and with a small
    batch that churns most of the codebook every step.
    """
    num_codes = codebook.embed.shape[0]
    uniform_share = codebook.cluster_size.sum() / num_codes
    threshold = dead_fraction * uniform_share
    dead = (codebook.cluster_size < threshold).nonzero().squeeze(1)
    if dead.numel() == 0:
        return 0
    picks = torch.randint(vectors.shape[0], (dead.numel(),), generator=generator)
    replacement = vectors[picks].to(codebook.embed.dtype)
    if dist.is_available() and dist.is_initialized():
        dist.broadcast(replacement, src=0)
    codebook.embed[dead] = replacement
    codebook.cluster_size[dead] = uniform_share
    codebook.embed_avg[dead] = replacement * uniform_share
    return int(dead.numel())


def quantize_for_training(
    quantizer,
    latents: torch.Tensor,
    num_active: int,
    update_codebooks: bool,
    decay: float = 0.99,
    epsilon: float = 1e-5,
    dead_fraction: float = 0.25,
    generator=None,
) -> dict:
    """RVQ forward for training. ``latents`` (B, D, T) → straight-through quantized latents, codes, commitment loss.

    Only the first ``num_active`` codebooks are used (quantizer dropout picks it per step), so the decoder learns to
    work from a prefix of codebooks, most of all from the first alone.
    """
    num_layers = len(quantizer.layers)
    if not 1 <= num_active <= num_layers:
        raise ValueError(f"num_active must be in [1, {num_layers}], got {num_active}")
    batch, dim, frames = latents.shape
    flat = latents.permute(0, 2, 1).reshape(-1, dim)
    residual = flat
    quantized_sum = torch.zeros_like(flat)
    commitment = flat.new_zeros(())
    codes = []
    dead_restarts = 0
    for layer in quantizer.layers[:num_active]:
        codebook = layer.codebook
        target = residual.detach()
        indices = _nearest(target.float(), codebook.embed.float())
        quantized = codebook.embed[indices].to(flat.dtype)
        # Pull the encoder's residual towards the (fixed) code it was assigned. An absolute MSE, as in EnCodec: a
        # loss normalised by the latents' spread was tried and shrank the latents (its pull grows as 1/spread).
        commitment = commitment + (residual - quantized.detach()).square().mean()
        if update_codebooks:
            _ema_update(codebook, target, indices, decay, epsilon)
            dead_restarts += _restart_dead_codes(codebook, target, dead_fraction, generator)
        quantized_sum = quantized_sum + quantized.detach()
        residual = residual - quantized.detach()
        codes.append(indices.view(batch, frames))
    straight_through = flat + (quantized_sum - flat).detach()
    return {
        "quantized": straight_through.view(batch, frames, dim).permute(0, 2, 1),
        "codes": torch.stack(codes, dim=1),
        "commitment_loss": commitment / num_active,
        "dead_restarts": dead_restarts,
    }
