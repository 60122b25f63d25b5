"""The clip's codes from its caption alone (`simba-music train --clip-codes-weight W`).

Teacher-forced, a decoder learns what the caption says about the key and tempo only from the first frames: after a
few notes the codes themselves tell, and the caption adds nothing. Those frames are a small sample (a count model of
the first code given instrument and key, fitted on 16,000 of them, gains 0.13 nats per code from the key; fitted on
every frame, 0.31), so the key is learned slowly, while the instrument is not. This extra loss asks the start token's
prediction (the first code, from the caption alone) to also cover the codes of the whole clip: the cross-entropy of the
clip's code histogram under it. Every frame then teaches which codes a caption's key and tempo use; at sampling, the
first code is drawn from that distribution, and the decoder continues it in context.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def clip_codes_loss(logits: torch.Tensor, labels: torch.Tensor, special_token_id: int) -> torch.Tensor:
    """Mean over rows (and codebooks) of -sum_c h(c) log p(c): `p` the first prediction `logits[..., 0, :]`, `h` the
    share of each code among the row's targets `labels[..., 1:]` (-100 and the special id are not codes).
    `logits`: [B, T, V] or [B, K, T, V]; `labels`: [B, T] or [B, K, T], the start token first."""
    targets = labels[..., 1:]
    valid = (targets != -100) & (targets != special_token_id)
    vocabulary = logits.shape[-1]
    counts = F.one_hot(targets.clamp(0, vocabulary - 1), vocabulary).to(logits.dtype) * valid[..., None]
    counts = counts.sum(-2)  # [B, (K,) V]
    totals = counts.sum(-1)
    rows = totals > 0
    if not bool(rows.any()):
        return logits.sum() * 0.0
    log_probabilities = F.log_softmax(logits[..., 0, :].float(), dim=-1)
    per_row = -(counts * log_probabilities).sum(-1) / totals.clamp_min(1)
    return per_row[rows].mean()


__all__ = ["clip_codes_loss"]
