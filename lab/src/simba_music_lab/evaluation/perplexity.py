"""Held-out cross-entropy and perplexity of the decoder on a `simba-music preprocess` dataset.

Each row's caption goes through the model's own processor and frozen text encoder (padded as `generate()` pads it);
the codes, after a start token, are scored teacher-forced. Cross-entropy is token-level, in nats, without label
smoothing, averaged over every predicted code of every codebook; perplexity is exp(cross-entropy). The special id is
never a target. For reference, a uniform guess over the codebook scores log(codebook_size).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F


def load_split(dataset_dir: str | Path, split: str | None = None):
    """The `split` of a saved DatasetDict (default: validation, else test), checked for `codes` and `caption`."""
    from datasets import DatasetDict, load_from_disk

    if not Path(dataset_dir).is_dir():
        raise ValueError(f"dataset: no such directory {str(dataset_dir)!r} (expected a `simba-music preprocess` "
                         "output)")
    splits = load_from_disk(str(dataset_dir))
    if not isinstance(splits, DatasetDict):
        raise ValueError(f"dataset: {str(dataset_dir)!r} holds a single Dataset, expected a DatasetDict with a "
                         "validation or test split")
    if split is None:
        split = next((name for name in ("validation", "test") if name in splits), None)
    if split not in splits:
        raise ValueError(f"dataset_split: {split!r} is not in {str(dataset_dir)!r} (found {sorted(splits)})")
    rows = splits[split]
    missing = {"codes", "caption"} - set(rows.column_names)
    if missing:
        raise ValueError(f"dataset: split {split!r} lacks columns {sorted(missing)}")
    if len(rows) == 0:
        raise ValueError(f"dataset: split {split!r} is empty")
    return split, rows


def _batch_codes(codes: list, special: int, num_codebooks: int) -> torch.LongTensor:
    """Rows of codes ([T] or [K, T] lists) -> [B, T + 1] (or [B, K, T + 1]) with a start token, right-padded with the
    special id (never a target)."""
    tensors = []
    for row in codes:
        tensor = torch.as_tensor(row, dtype=torch.long)
        tensor = tensor[None] if tensor.dim() == 1 else tensor
        if tensor.dim() != 2 or tensor.shape[0] != num_codebooks:
            raise ValueError(f"dataset: codes of shape {list(tensor.shape)} do not match the decoder's "
                             f"num_codebooks={num_codebooks}")
        tensors.append(torch.cat([torch.full((num_codebooks, 1), special), tensor], dim=-1))
    length = max(t.shape[-1] for t in tensors)
    batch = torch.full((len(tensors), num_codebooks, length), special, dtype=torch.long)
    for index, tensor in enumerate(tensors):
        batch[index, :, :tensor.shape[-1]] = tensor
    return batch[:, 0] if num_codebooks == 1 else batch


@torch.no_grad()
def scored_codes(model, processor, captions: list[str], codes: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced cross-entropy of each code under its caption: (losses [B, K, T] float64, zero where not a
    target; valid [B, K, T] bool). `codes`: rows of [T] or [K, T] lists."""
    decoder_config = model.config.decoder
    special, num_codebooks = decoder_config.special_token_id, decoder_config.num_codebooks
    text = processor(captions)
    input_ids, attention_mask = model._pad_captions(text["input_ids"], text.get("attention_mask"))
    codes = _batch_codes(codes, special, num_codebooks).to(model.device)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=codes).logits
    if num_codebooks == 1:
        logits, codes = logits[:, None], codes[:, None]
    targets = codes[..., 1:].masked_fill(codes[..., 1:] == special, -100)  # [B, K, T]
    losses = F.cross_entropy(logits[..., :-1, :].permute(0, 3, 1, 2), targets, ignore_index=-100, reduction="none")
    valid = targets != -100
    return losses.double() * valid, valid


@torch.no_grad()
def score_split(model, processor, dataset_dir: str | Path, measures: list, split: str | None = None,
                batch_size: int = 8, max_examples: int | None = None, progress: bool = True) -> tuple[str, int]:
    """One teacher-forced pass over a preprocessed split under its true captions: each measure's `add(rows, losses,
    valid)` sees every batch (rows as dicts; `scored_codes`' losses and mask), so that measures share the pass.
    Returns (split name, examples scored)."""
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    if max_examples is not None and max_examples < 1:
        raise ValueError(f"max_examples: must be >= 1 (or None for the whole split), got {max_examples}")
    split, rows = load_split(dataset_dir, split)
    count = len(rows) if max_examples is None else min(len(rows), max_examples)
    # Refused before the pass, not after it: reading stops at the first row that holds a code.
    if not any(torch.as_tensor(rows[index]["codes"]).numel() for index in range(count)):
        raise ValueError(f"dataset: split {split!r} has no codes to score")
    model.eval()
    for start in tqdm(range(0, count, batch_size), desc="scoring", unit="batch", disable=not progress):
        batch = [rows[index] for index in range(start, min(start + batch_size, count))]
        losses, valid = scored_codes(model, processor, [row["caption"] for row in batch],
                                     [row["codes"] for row in batch])
        for measure in measures:
            measure.add(batch, losses, valid)
    return split, count


class CrossEntropy:
    """Token-level cross-entropy and perplexity, per codebook too (a `score_split` measure)."""

    def __init__(self, model):
        num_codebooks = model.config.decoder.num_codebooks
        self.uniform = math.log(model.config.audio_encoder.codebook_size)
        self.totals = torch.zeros(num_codebooks, dtype=torch.float64)
        self.tokens = torch.zeros(num_codebooks, dtype=torch.long)

    def add(self, rows: list[dict], losses: torch.Tensor, valid: torch.Tensor) -> None:
        self.totals += losses.sum(dim=(0, 2)).cpu()
        self.tokens += valid.sum(dim=(0, 2)).cpu()

    def result(self, split: str) -> dict:
        cross_entropy = float(self.totals.sum() / self.tokens.sum())
        result = {"tokens": int(self.tokens.sum()), "cross_entropy": cross_entropy,
                  "perplexity": math.exp(cross_entropy), "uniform_cross_entropy": self.uniform}
        if len(self.tokens) > 1:
            result["per_codebook_cross_entropy"] = (self.totals / self.tokens.clamp_min(1)).tolist()
        return result


def decoder_cross_entropy(model, processor, dataset_dir: str | Path, split: str | None = None, batch_size: int = 8,
                          max_examples: int | None = None, progress: bool = True) -> dict:
    """Token-level cross-entropy (nats) and perplexity of `model`'s decoder on a preprocessed split."""
    measure = CrossEntropy(model)
    split, count = score_split(model, processor, dataset_dir, [measure], split, batch_size, max_examples, progress)
    return {"split": split, "examples": count, **measure.result(split)}


__all__ = ["CrossEntropy", "decoder_cross_entropy", "load_split", "score_split", "scored_codes"]
