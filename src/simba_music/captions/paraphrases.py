"""Paraphrased captions: the corpus labels said the way people write prompts.

The templates of `captions.py` always name every label in one of five sentence shapes, so a model trained on them
reads only those shapes. A paraphrase states a subset of the labels (sometimes only the instrument, or only a mood),
in a free order and shape (a noun phrase, a sentence led by the instrument or the key, a list of tags, a request),
with synonyms from `vocabulary.py` and keys and tempi written several ways. Every word is chosen to agree with the
labels: a mood fits the clip's mode and tempo band, a tempo word the clip's BPM.

Deterministic: the choices come from a generator seeded by a hash of the seed and the clip id (no global RNG), so a
corpus build or recaption always yields the same captions, and another `seed` yields another set of variants.
"""

from __future__ import annotations

import hashlib
import random

from .vocabulary import (
    FLAT_SPELLINGS,
    GENERIC_NOUNS,
    INSTRUMENT_PLAYERS,
    INSTRUMENT_SYNONYMS,
    KEY_FORMS,
    SHARP_SPELLINGS,
    STYLE_SYNONYMS,
    TEMPO_ADVERBS,
    moods_for,
    split_key,
    tempo_words_for,
)

# Which labels a caption states, with weights: most keep the instrument and the key (what the evaluation scores),
# some name only an instrument, only a mood, or only a key.
PLANS = (
    (("instrument", "key", "tempo", "style"), 4), (("instrument", "key", "tempo", "mood"), 3),
    (("instrument", "key", "tempo"), 4), (("instrument", "key"), 4), (("instrument", "key", "mood"), 3),
    (("instrument", "key", "tempo", "style", "mood"), 2), (("instrument", "tempo"), 2), (("instrument", "mood"), 2),
    (("instrument",), 2), (("mood",), 2), (("key",), 1), (("key", "tempo"), 1), (("style", "key"), 1),
    (("style", "mood"), 1), (("instrument", "style"), 1), (("mood", "key"), 1),
)
# How a tempo word may be used: before the noun, in "at a ... pace", or as a marking.
TEMPO_ADJECTIVES = ("slow", "unhurried", "leisurely", "mid-tempo", "fast", "quick", "brisk", "up-tempo")
PACE_WORDS = ("slow", "unhurried", "leisurely", "moderate", "medium", "fast", "quick", "brisk")
TEMPO_MARKINGS = ("adagio", "andante", "allegro")
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
COMPACT_ACCIDENTALS = {"sharp": ("#", "♯"), "flat": ("b", "♭")}  # "Bbm", "F#maj"
LOWERCASE_ACCIDENTALS = {"sharp": ("#", "♯", "-sharp"), "flat": ("♭", "-flat")}  # "b♭-minor", never "bb-minor"
REQUESTS = ("play ", "compose ", "generate ", "I'd like ", "give me ")


def _rng(clip_id: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"paraphrase:{seed}:{clip_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def write_key(rng: random.Random, key: str) -> str:
    """One spelling of a corpus key label: "D minor", "Dm", "d-minor", "the key of D minor", "D min", "Bbm",
    "B♭ major", "c-sharp-minor", ..."""
    letter, accidental, mode = split_key(key)
    form = rng.choice(KEY_FORMS[mode])
    if "{t}" in form:
        spelled = letter.lower() + (rng.choice(LOWERCASE_ACCIDENTALS[accidental]) if accidental else "")
        return form.replace("{t}", spelled)
    compact = form.endswith(("}m", "}maj"))
    choices = COMPACT_ACCIDENTALS.get(accidental) if compact else {"sharp": SHARP_SPELLINGS,
                                                                    "flat": FLAT_SPELLINGS}.get(accidental)
    return form.replace("{T}", letter + (rng.choice(choices) if accidental else ""))


def _tempo_pieces(rng: random.Random, tempo_bpm: float) -> dict:
    """One way to state the tempo: as an adjective before the noun, a phrase after it, or a tag."""
    bpm = int(round(tempo_bpm))
    words = tempo_words_for(tempo_bpm)
    kind = rng.choice(("bpm", "adjective", "pace", "marking", "adverb", "word and bpm"))
    adjectives = [w for w in words if w in TEMPO_ADJECTIVES]
    paces = [w for w in words if w in PACE_WORDS]
    markings = [w for w in words if w in TEMPO_MARKINGS]
    adverbs = tempo_words_for(tempo_bpm, TEMPO_ADVERBS)
    number = rng.choice((f"{bpm} BPM", f"{bpm} bpm", f"{bpm} beats per minute", f"{bpm}bpm"))
    if kind == "adjective" and adjectives:
        word = rng.choice(adjectives)
        return {"pre": word, "tag": word}
    if kind == "pace" and paces:
        word = rng.choice(paces)
        return {"post": rng.choice((f"at a {word} tempo", f"at a {word} pace")), "tag": f"{word} tempo"}
    if kind == "marking" and markings:
        word = rng.choice(markings)
        return {"post": f"marked {word}", "tag": word}
    if kind == "adverb" and adverbs:
        return {"post": f"played {rng.choice(adverbs)}", "tag": f"played {rng.choice(adverbs)}"}
    if kind == "word and bpm" and adjectives:
        word = rng.choice(adjectives)
        return {"pre": word, "post": f"at {number}", "tag": f"{word}, {number}"}
    return {"post": rng.choice((f"at {number}", f"({number})", f"at a tempo of {number}")), "tag": number}


def _parts_pieces(rng: random.Random, num_parts: int) -> dict:
    if num_parts == 1:
        return {"post": rng.choice(("as a single melodic line", "as a single line")), "tag": "single melodic line"}
    count = NUMBER_WORDS.get(num_parts, str(num_parts))
    return {"pre": f"{count}-part", "post": f"in {count} voices", "tag": f"{count}-part"}


def paraphrase_caption(clip_id: str, instrument: str, tempo_bpm: float, key: str, meter: str, num_parts: int,
                       genre: str, seed: int = 0) -> str:
    """A paraphrased caption of one clip's labels (see the module docstring); the same arguments give the same text."""
    if instrument not in INSTRUMENT_SYNONYMS:
        raise ValueError(f"instrument: no synonyms for {instrument!r} (known: {', '.join(INSTRUMENT_SYNONYMS)})")
    if genre not in STYLE_SYNONYMS:
        raise ValueError(f"genre: no synonyms for {genre!r} (known: {', '.join(STYLE_SYNONYMS)})")
    if num_parts < 1:
        raise ValueError(f"num_parts must be >= 1, got {num_parts}")
    mode = split_key(key)[2]
    rng = _rng(clip_id, seed)
    plans, weights = zip(*PLANS, strict=True)
    stated = list(rng.choices(plans, weights)[0])
    if len(stated) >= 3:  # the meter and the voices, now and then, in a caption that says a lot already
        stated += [extra for extra in ("meter", "parts") if rng.random() < 0.15]

    pre: list[str] = []  # before the head noun, in this order: mood, tempo, parts
    posts: list[str] = []  # after it, in a shuffled order
    tags: dict[str, str] = {}
    if "mood" in stated:
        mood = rng.choice(moods_for(mode, tempo_bpm))
        pre.append(mood)
        tags["mood"] = rng.choice((mood, f"{mood} mood", f"{mood} feel"))
    if "tempo" in stated:
        pieces = _tempo_pieces(rng, tempo_bpm)
        pre += [pieces["pre"]] if "pre" in pieces else []
        posts += [pieces["post"]] if "post" in pieces else []
        tags["tempo"] = pieces["tag"]
    if "parts" in stated:
        pieces = _parts_pieces(rng, num_parts)
        (pre.append(pieces["pre"]) if "pre" in pieces and rng.random() < 0.5 else posts.append(pieces["post"]))
        tags["parts"] = pieces["tag"]
    key_post = None
    if "key" in stated:
        written = write_key(rng, key)  # "in the key of D minor", "in Dm"
        key_post = f"in {written}"
        posts.append(key_post)
        tags["key"] = written.removeprefix("the ")
    if "meter" in stated:
        posts.append(rng.choice((f"in {meter} time", f"in {meter}")))
        tags["meter"] = rng.choice((f"{meter} time", f"{meter} meter"))
    style = rng.choice(STYLE_SYNONYMS[genre]) if "style" in stated else None
    if style:
        tags["style"] = style
    name = rng.choice(INSTRUMENT_SYNONYMS[instrument]) if "instrument" in stated else None
    if name:
        tags["instrument"] = rng.choice((name, f"solo {name}", f"{name} solo"))

    shape = rng.choice(("noun phrase", "noun phrase", "instrument first", "tags", "key first", "request"))
    if shape == "tags" or (shape == "key first" and key_post is None):
        order = list(tags.values())
        rng.shuffle(order)
        text = rng.choice((", ", "; ")).join(order)
    else:
        head = style or rng.choice((*GENERIC_NOUNS, "music"))
        if name and shape == "noun phrase" and not name.endswith("s") and rng.random() < 0.35:
            pre.append(name)  # "a sad violin melody" (never "a strings melody")
            name = None
        elif name and shape == "noun phrase":
            players = INSTRUMENT_PLAYERS.get(instrument, ())
            ways = [f"for {name}", f"on {name}", f"played on {name}", f"performed on {name}", f"for solo {name}"]
            posts.append(rng.choice(ways + [f"played by {_article(p)}" for p in players]))
            name = None
        if shape == "key first":
            posts.remove(key_post)
        rng.shuffle(posts)
        noun_phrase = " ".join(pre + [head])
        noun_phrase = " ".join([noun_phrase if head == "music" else _article(noun_phrase), *posts])
        if shape == "instrument first" and name:
            text = f"{name} {rng.choice(('playing', 'plays', 'performing', 'performs'))} {noun_phrase}"
        elif shape == "key first":
            text = f"{key_post}{rng.choice((': ', ', '))}{noun_phrase}"
        else:
            text = (rng.choice(REQUESTS) if shape == "request" else "") + noun_phrase
        if name and shape != "instrument first":
            text += rng.choice((f" for {name}", f" on {name}"))
    if rng.random() < 0.6:
        text = text[:1].upper() + text[1:]
    return text + ("." if rng.random() < 0.3 else "")


__all__ = ["PLANS", "paraphrase_caption", "write_key"]
