"""Pipelines: `text-to-music` (registered on import); `pipeline("text-to-audio")` works without anything here."""

from .text_to_music import TextToMusicPipeline

__all__ = ["TextToMusicPipeline"]
