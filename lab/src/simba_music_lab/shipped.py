"""Weights that ship inside the lab package (`simba_music_lab/pretrained/`): the codecs the demo does not use, the
instrument classifiers and the estimators' validation record. The demo model and its codec ship in `simba_music`."""

from __future__ import annotations

from pathlib import Path

LAB_PRETRAINED_ROOT = Path(__file__).resolve().parent / "pretrained"

__all__ = ["LAB_PRETRAINED_ROOT"]
