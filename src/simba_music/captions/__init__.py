"""The caption language of the models trained here: the vocabulary, the template and paraphrase writers, and two
prompt sets in it (`prompts_demo.jsonl`: captions of held-out clips in template wording; `prompts_freeform.jsonl`:
hand-written prompts in wording the paraphrase writer never produces). Training re-captions rows with these writers
(`train --caption-styles`); the demo page offers the first prompt set as examples."""

from __future__ import annotations

import json
from pathlib import Path

from .templates import CAPTION_STYLES, INSTRUMENTS, caption_for_row, make_caption, tempo_word

DEMO_PROMPTS = Path(__file__).resolve().parent / "prompts_demo.jsonl"
FREEFORM_PROMPTS = Path(__file__).resolve().parent / "prompts_freeform.jsonl"


def example_captions(count: int | None = None, path: str | Path = DEMO_PROMPTS) -> list[str]:
    """The captions of a prompt file (JSONL, one object with a "caption" a line), in file order."""
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line)["caption"] for line in lines[:count]]


__all__ = ["CAPTION_STYLES", "DEMO_PROMPTS", "FREEFORM_PROMPTS", "INSTRUMENTS", "caption_for_row", "example_captions",
           "make_caption", "tempo_word"]
