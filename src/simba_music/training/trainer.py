"""`transformers.Trainer` for SimbaMusic: caption dropout applies to training batches only."""

from __future__ import annotations

import contextlib

from transformers import Trainer


class SimbaMusicTrainer(Trainer):
    """A Trainer whose evaluation runs the collator without caption dropout (a dropped caption in a validation
    batch would measure the unconditional model, not the one being trained)."""

    def evaluation_loop(self, *args, **kwargs):
        no_dropout = getattr(self.data_collator, "without_dropout", contextlib.nullcontext)
        with no_dropout():
            return super().evaluation_loop(*args, **kwargs)
