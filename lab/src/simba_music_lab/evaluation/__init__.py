"""Offline evaluation of text-to-music models: held-out cross-entropy, prompt adherence (instrument, key, tempo),
a Frechet distance on offline embeddings, and the real-time factor. See `harness.evaluate`."""

from .harness import evaluate

__all__ = ["evaluate"]
