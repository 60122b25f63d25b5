"""Batch collation for decoder training.

Rows carry `codes` ([T] or [K, T] ints) and either `text_states` (cached text-encoder output, [S, text_hidden]) or a
`caption` string that a tokenizer turns into `text_input_ids`/`text_attention_mask` for a frozen encoder run in the
training step. Caption dropout for classifier-free guidance replaces the whole caption by the empty one, which is
exactly the unconditional input used at sampling time (the released code dropped tokens under a mask that its prefix
path ignored, so its dropout did nothing).
"""

from __future__ import annotations

import contextlib

import torch


def caption_drop_mask(batch_size: int, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Which rows of a batch lose their caption (classifier-free guidance training): each with `probability`."""
    if probability <= 0:
        return torch.zeros(batch_size, dtype=torch.bool)
    return torch.rand(batch_size, generator=generator) < probability


def drop_captions(hidden: torch.Tensor, mask: torch.Tensor, drop: torch.Tensor,
                  empty_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoded captions `hidden` [B, S, H] / `mask` [B, S] with the rows in `drop` replaced by the empty caption's
    encoding `empty_states` [S0, H]: exactly the unconditional input that sampling uses. The text axis grows to S0 if
    the empty caption is longer; nothing is cut."""
    if not bool(drop.any()):
        return hidden, mask
    empty = empty_states.to(hidden)
    width = max(hidden.shape[1], empty.shape[0])
    hidden = torch.nn.functional.pad(hidden, (0, 0, 0, width - hidden.shape[1]))
    mask = torch.nn.functional.pad(mask, (0, width - mask.shape[1]))
    drop = drop.to(hidden.device)
    hidden[drop], mask[drop] = 0, 0
    hidden[drop, :empty.shape[0]] = empty
    mask[drop, :empty.shape[0]] = 1
    return hidden, mask


class SimbaMusicCollator:
    def __init__(self, special_token_id: int, tokenizer=None, caption_dropout: float = 0.1,
                 empty_text_states: torch.Tensor | None = None, max_text_length: int = 64, seed: int | None = None,
                 pad_text_to_max_length: bool = False, caption_of=None, crop=None):
        if not 0.0 <= caption_dropout <= 1.0:
            raise ValueError(f"caption_dropout must be in [0, 1], got {caption_dropout}")
        self.special_token_id = special_token_id
        self.tokenizer = tokenizer
        self.caption_dropout = caption_dropout
        self.empty_text_states = empty_text_states
        self.max_text_length = max_text_length
        # Padding every caption to `max_text_length` fixes the prefix length, and with it the position of every audio
        # token, to what a composite model with `text_max_length` sees at inference.
        self.pad_text_to_max_length = pad_text_to_max_length
        # A function row -> caption that replaces the stored caption (`recaption.Recaptioner`); None keeps it.
        self.caption_of = caption_of
        # A function codes -> codes that cuts each row to a window (`crop.RandomCrop`); None keeps whole clips.
        self.crop = crop
        # A private generator: dropout decisions are reproducible and do not disturb the global RNG.
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()

    @contextlib.contextmanager
    def without_dropout(self):
        """Evaluation batches keep every caption."""
        saved, self.caption_dropout = self.caption_dropout, 0.0
        try:
            yield self
        finally:
            self.caption_dropout = saved

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        codes = [torch.as_tensor(row["codes"], dtype=torch.long) for row in rows]
        if self.crop is not None:
            codes = [self.crop(c) for c in codes]
        # A start token in front: the model predicts codes[0] from it.
        codes = [torch.cat([torch.full((*c.shape[:-1], 1), self.special_token_id), c], dim=-1) for c in codes]
        length = max(c.shape[-1] for c in codes)
        input_ids = torch.full((len(codes), *codes[0].shape[:-1], length), self.special_token_id)
        labels = torch.full_like(input_ids, -100)
        for i, c in enumerate(codes):
            input_ids[i, ..., :c.shape[-1]] = c
            labels[i, ..., :c.shape[-1]] = c
        batch = {"input_ids": input_ids, "labels": labels}
        dropped = caption_drop_mask(len(rows), self.caption_dropout, self.generator)

        if "text_states" in rows[0]:
            if bool(dropped.any()) and self.empty_text_states is None:
                raise ValueError("caption_dropout with cached text_states needs empty_text_states "
                                 "(the encoder's output for the empty caption)")
            states = [torch.as_tensor(row["text_states"], dtype=torch.float32) for row in rows]
            text_length = max(s.shape[0] for s in states)
            hidden = torch.zeros(len(states), text_length, states[0].shape[-1])
            mask = torch.zeros(len(states), text_length, dtype=torch.long)
            for i, s in enumerate(states):
                hidden[i, :s.shape[0]] = s
                mask[i, :s.shape[0]] = 1
            if self.empty_text_states is not None:
                hidden, mask = drop_captions(hidden, mask, dropped, self.empty_text_states)
            batch["encoder_hidden_states"], batch["encoder_attention_mask"] = hidden, mask
        elif "caption" in rows[0] and self.tokenizer is not None:
            caption_of = self.caption_of or (lambda row: row["caption"])
            captions = ["" if drop else caption_of(row) for row, drop in zip(rows, dropped.tolist(), strict=True)]
            padding = "max_length" if self.pad_text_to_max_length else True
            tokens = self.tokenizer(captions, padding=padding, truncation=True, max_length=self.max_text_length,
                                    return_tensors="pt")
            batch["text_input_ids"], batch["text_attention_mask"] = tokens["input_ids"], tokens["attention_mask"]
        return batch
