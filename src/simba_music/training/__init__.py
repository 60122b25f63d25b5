"""Training: preprocessing audio into codec tokens, the batch collator, and the Accelerate training loop."""

from .collator import SimbaMusicCollator
from .trainer import SimbaMusicTrainer

__all__ = ["SimbaMusicCollator", "SimbaMusicTrainer"]
