"""Does the decoder listen to what its captions state? The rise in held-out cross-entropy when one attribute of a
clip's caption is replaced by another value.

For each clip of a preprocessed split whose caption states the attribute verbatim (the row's `key`, `instrument` or
`tempo_bpm` column), the codes are scored teacher-forced under the true caption and under the caption with only that
attribute swapped:
- key: the key a tritone away, same mode ("D major" -> "G# major"): every pitch class of the scale moves;
- instrument: the next of the corpus' instruments, in a fixed order;
- tempo: the BPM figure moved by 50 within 50-149 ("96 BPM" -> "146 BPM"; a tempo word such as "lively" stays).
A decoder that ignores the attribute scores both captions alike (a rise of 0 nats per code, rising on about half
the clips); one that learned it scores the true caption better on most clips. The rise is also given over each clip's
first second alone: once the music has begun, its own codes reveal the key, tempo and instrument, so the caption
matters most, and shows first in training, where the decoder has no music to go on. Neither audio, sampling nor an
estimator comes in, so this separates "the training never taught the key" from "the codec lost the key" and "the
estimator misread it".
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from simba_music.captions.templates import INSTRUMENTS

from .key import key_name, parse_key
from .perplexity import score_split, scored_codes

ATTRIBUTES = ("key", "instrument", "tempo")
_INSTRUMENT_ORDER = sorted({name.lower() for name in INSTRUMENTS.values()})


def swapped_caption(caption: str, row: dict, attribute: str) -> str | None:
    """`caption` with `attribute` replaced as the module says, or None where the caption does not state the row's
    value verbatim (or the row lacks the column)."""
    if attribute == "key":
        key = row.get("key")
        if not key or key not in caption:
            return None
        tonic, mode = parse_key(key)
        return caption.replace(key, key_name(tonic + 6, mode))
    if attribute == "instrument":
        instrument = str(row.get("instrument") or "").lower()
        if instrument not in _INSTRUMENT_ORDER or instrument not in caption.lower():
            return None
        other = _INSTRUMENT_ORDER[(_INSTRUMENT_ORDER.index(instrument) + 1) % len(_INSTRUMENT_ORDER)]
        return re.sub(re.escape(instrument), other, caption, flags=re.IGNORECASE)
    if attribute == "tempo":
        bpm = row.get("tempo_bpm")
        if bpm is None or f"{bpm} BPM" not in caption:
            return None
        return caption.replace(f"{bpm} BPM", f"{50 + (int(bpm) - 50 + 50) % 100} BPM")
    raise ValueError(f"attribute: must be one of {ATTRIBUTES}, got {attribute!r}")


class CaptionSwaps:
    """Per attribute: `clips` scored, `rise_nats_per_code` (mean over clips of the swapped caption's cross-entropy
    minus the true caption's), `share_rising` (the share of clips whose cross-entropy rose) and
    `rise_nats_per_code_first_second` (the same rise over each clip's first second of codes). A `score_split`
    measure: the true captions' scores come from the shared pass."""

    def __init__(self, model, processor):
        self.model, self.processor = model, processor
        self.first_codes = max(1, round(model.config.frame_rate))
        self.rises = {attribute: [] for attribute in ATTRIBUTES}
        self.first_rises = {attribute: [] for attribute in ATTRIBUTES}

    @torch.no_grad()
    def add(self, rows: list[dict], losses: torch.Tensor, valid: torch.Tensor) -> None:
        true, true_first = _per_clip(losses, valid, self.first_codes)
        for attribute in ATTRIBUTES:
            swapped = [(index, swapped_caption(row["caption"], row, attribute)) for index, row in enumerate(rows)]
            swapped = [(index, caption) for index, caption in swapped if caption is not None]
            if not swapped:
                continue
            scores, scores_first = _per_clip(*scored_codes(self.model, self.processor,
                                                           [caption for _, caption in swapped],
                                                           [rows[index]["codes"] for index, _ in swapped]),
                                             self.first_codes)
            indices = [index for index, _ in swapped]
            self.rises[attribute] += (scores - true[indices]).tolist()
            self.first_rises[attribute] += (scores_first - true_first[indices]).tolist()

    def result(self) -> dict:
        return {attribute: {"clips": len(values), "rise_nats_per_code": _mean(values),
                            "share_rising": sum(value > 0 for value in values) / len(values) if values else None,
                            "rise_nats_per_code_first_second": _mean(self.first_rises[attribute])}
                for attribute, values in self.rises.items()}


def caption_swap_gains(model, processor, dataset_dir: str | Path, split: str | None = None, batch_size: int = 8,
                       max_examples: int | None = None, progress: bool = True) -> dict:
    """`CaptionSwaps` over a preprocessed split, with the split's name and the examples scored."""
    swaps = CaptionSwaps(model, processor)
    split, count = score_split(model, processor, dataset_dir, [swaps], split, batch_size, max_examples, progress)
    return {"split": split, "examples": count, **swaps.result()}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _per_clip(losses: torch.Tensor, valid: torch.Tensor, first_codes: int):
    """Mean cross-entropy per code of each clip [B], and over its first `first_codes` columns [B]."""
    first_losses, first_valid = losses[..., :first_codes], valid[..., :first_codes]
    return (losses.sum(dim=(1, 2)) / valid.sum(dim=(1, 2)).clamp_min(1),
            first_losses.sum(dim=(1, 2)) / first_valid.sum(dim=(1, 2)).clamp_min(1))


__all__ = ["ATTRIBUTES", "CaptionSwaps", "caption_swap_gains", "swapped_caption"]
