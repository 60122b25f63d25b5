"""Training: preprocessing audio into codec tokens, the batch collator, and the Accelerate training loop."""

from .collator import SimbaMusicCollator

__all__ = ["SimbaMusicCollator"]
