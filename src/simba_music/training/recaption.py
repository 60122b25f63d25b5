"""Fresh captions every epoch (`simba-music train --caption-styles templates,paraphrases`).

A preprocessed corpus stores one caption per clip, written once. A decoder that sees only that wording learns it, and
a prompt in other words (another word order, a synonym, only an instrument) is off its training distribution. With
caption styles given, every training row is re-captioned from its metadata each time an epoch draws it: the style is
one of the given ones and the paraphrase variant changes with the epoch, so over five epochs a clip is seen in up to
five wordings. Validation rows keep their stored captions, so that the validation loss stays comparable across runs.

The choice is a hash of (seed, epoch, clip), not a random generator: an interrupted run that resumes mid-epoch
re-captions the remaining rows exactly as the uninterrupted run would have.
"""

from __future__ import annotations

from ..captions.templates import CAPTION_STYLES, caption_for_row, stable_fraction

# The metadata a caption is written from (`captions.templates.caption_for_row`).
CAPTION_COLUMNS = ("clip_id", "instrument", "tempo_bpm", "key", "meter", "num_parts", "genre", "composer")


def parse_caption_styles(text: str) -> tuple[str, ...]:
    """`"templates,paraphrases"` -> `("templates", "paraphrases")`; refuses unknown or repeated styles by name."""
    styles = tuple(part.strip() for part in text.split(","))
    unknown = [style for style in styles if style not in CAPTION_STYLES]
    if unknown or not styles:
        raise ValueError(f"caption_styles: each of the comma-separated styles must be one of "
                         f"{', '.join(CAPTION_STYLES)}, got {text!r}")
    if len(set(styles)) != len(styles):
        raise ValueError(f"caption_styles: a style is named twice in {text!r}")
    return styles


class Recaptioner:
    """The caption of a training row in the current `epoch` (set by the training loop before each epoch)."""

    def __init__(self, styles: tuple[str, ...], seed: int = 0):
        self.styles, self.seed, self.epoch = styles, seed, 0

    @staticmethod
    def check_columns(column_names) -> None:
        """Refuse, before training starts, a dataset whose rows lack the metadata a caption is written from."""
        missing = [name for name in CAPTION_COLUMNS if name not in column_names]
        if missing:
            raise ValueError(f"caption_styles: the dataset's train split lacks the caption metadata {missing} (a "
                             "`simba-music preprocess` of a `simba-music-lab corpus build` manifest keeps them); train "
                             "without --caption-styles to use the stored captions")

    def __call__(self, row: dict) -> str:
        key = f"recaption:{self.seed}:{self.epoch}:{row['clip_id']}:{row.get('segment_index', 0)}"
        style = self.styles[int(stable_fraction(key) * len(self.styles))]
        variant = self.seed * 100_003 + self.epoch  # another paraphrase wording every epoch
        return caption_for_row({**{name: _plain(row[name]) for name in CAPTION_COLUMNS},
                                "caption_style": style, "caption_seed": variant})


def _plain(value):
    """Dataset rows formatted for torch hold numbers as 0-d tensors; captions format plain numbers."""
    return value.item() if hasattr(value, "item") else value


__all__ = ["CAPTION_COLUMNS", "Recaptioner", "parse_caption_styles"]
