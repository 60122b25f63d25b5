"""Deterministic captions from score and rendering metadata.

Two styles. "templates" (the default, and what the shipped demo was trained on): every label in one of five sentence
shapes, the template chosen by a hash of the clip id, so the same corpus build always yields the same captions (no
global RNG involved). "paraphrases" (`paraphrases.py`): a subset of the labels in free word order with synonyms, keys
and tempi written several ways, chosen by a hash of the clip id and a seed; another seed gives another variant.
"""

from __future__ import annotations

import hashlib

from .paraphrases import paraphrase_caption

# General MIDI programs used for renders, with the name a caption uses.
INSTRUMENTS = {
    0: "acoustic grand piano",
    6: "harpsichord",
    11: "vibraphone",
    19: "church organ",
    21: "accordion",
    24: "nylon-string guitar",
    40: "violin",
    42: "cello",
    46: "harp",
    48: "string ensemble",
    52: "choir",
    56: "trumpet",
    60: "french horn",
    68: "oboe",
    71: "clarinet",
    73: "flute",
    75: "pan flute",
    109: "bagpipe",
}

CAPTION_STYLES = ("templates", "paraphrases")
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

TEMPLATES = (
    "A {parts_word} {genre} {by_composer}, played on {instrument} at {tempo} BPM in {key}, {meter} time.",
    "{Genre} in {key} for {instrument}, {tempo_word} tempo ({tempo} BPM), {meter} meter, {parts_phrase}.",
    "{Instrument} performs a {tempo_word} {genre} {by_composer} in {key}; {meter}, {tempo} BPM.",
    "Solo {instrument} rendition of a {genre}, {parts_phrase}, in {key} at a {tempo_word} {tempo} BPM, {meter} time.",
    "{Tempo_word} {meter} {genre} in {key} at {tempo} BPM, {parts_phrase}, performed on {instrument}; "
    "composer: {composer}.",
)


def stable_fraction(text: str) -> float:
    """A number in [0, 1) fixed by ``text`` alone, stable across Python versions and processes."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_caption_style(style: str) -> None:
    if style not in CAPTION_STYLES:
        raise ValueError(f"caption_style must be one of {', '.join(CAPTION_STYLES)}, got {style!r}")


def tempo_word(tempo_bpm: float) -> str:
    if tempo_bpm < 66:
        return "slow"
    if tempo_bpm < 90:
        return "moderate"
    if tempo_bpm < 116:
        return "lively"
    return "fast"


def make_caption(
    clip_id: str,
    instrument: str,
    tempo_bpm: float,
    key: str,
    meter: str,
    num_parts: int,
    genre: str,
    composer: str,
    style: str = "templates",
    seed: int = 0,
) -> str:
    """The caption of one clip in `style` (see the module docstring); `seed` picks the variant: the paraphrase, or
    the template (seed 0 keeps the template every earlier corpus build chose)."""
    check_caption_style(style)
    if num_parts < 1:
        raise ValueError(f"num_parts must be >= 1, got {num_parts}")
    if style == "paraphrases":
        return paraphrase_caption(clip_id, instrument, tempo_bpm, key, meter, num_parts, genre, seed)
    template_key = "template:" + clip_id if seed == 0 else f"template:{seed}:{clip_id}"
    template = TEMPLATES[int(stable_fraction(template_key) * len(TEMPLATES))]
    parts_word = f"{NUMBER_WORDS.get(num_parts, str(num_parts))}-part"
    parts_phrase = "a single melodic line" if num_parts == 1 else f"{NUMBER_WORDS.get(num_parts, num_parts)} voices"
    if num_parts == 1:
        parts_word = "single-line"
    word = tempo_word(tempo_bpm)
    fields = {
        "parts_word": parts_word,
        "parts_phrase": parts_phrase,
        "genre": genre,
        "Genre": genre[:1].upper() + genre[1:],
        "composer": composer,
        "by_composer": "from the traditional repertoire" if composer == "traditional" else f"by {composer}",
        "instrument": instrument,
        "Instrument": instrument[:1].upper() + instrument[1:],
        "tempo": int(round(tempo_bpm)),
        "tempo_word": word,
        "Tempo_word": word.capitalize(),
        "key": key,
        "meter": meter,
    }
    return template.format(**fields)


def caption_for_row(row: dict) -> str:
    """The caption of a manifest row from its metadata, in the row's own `caption_style` with its `caption_seed`
    (rows without them are template captions)."""
    style, seed = row.get("caption_style", "templates"), row.get("caption_seed", 0)
    return make_caption(
        row["clip_id"], row["instrument"], row["tempo_bpm"], row["key"], row["meter"], row["num_parts"],
        row["genre"], row["composer"], style=style, seed=seed,
    )  # fmt: skip
