"""The words a caption may use for what the corpus renders: one table for writing paraphrases and for reading the
labels back out of a caption or prompt (`simba_music_lab.evaluation.prompt_labels`).

Only words that mean the labelled thing are listed: a synonym names the same instrument ("fiddle" for violin), a
style synonym names the same repertoire, and a mood word is one whose usual meaning fits the clip's mode and tempo.
The corpus has no mood labels, so moods are derived from the two labels it has: by the common convention a minor
key reads as sad or dark and a major key as happy or bright, and calm or energetic follow the tempo band. A mood word
lists the mode it implies (None: either) and the tempo bands it fits.
"""

from __future__ import annotations

import math
import re

INSTRUMENT_SYNONYMS = {
    "acoustic grand piano": ("acoustic grand piano", "piano", "grand piano", "acoustic piano", "pianoforte"),
    "harpsichord": ("harpsichord", "cembalo"),
    "vibraphone": ("vibraphone", "vibes", "vibraharp"),
    "church organ": ("church organ", "pipe organ", "organ"),
    "accordion": ("accordion", "piano accordion", "squeezebox"),
    "nylon-string guitar": ("nylon-string guitar", "classical guitar", "Spanish guitar", "nylon guitar", "guitar"),
    "violin": ("violin", "fiddle"),
    "cello": ("cello", "violoncello"),
    "harp": ("harp", "concert harp", "pedal harp"),
    "string ensemble": ("string ensemble", "strings", "string section", "string orchestra"),
    "choir": ("choir", "chorus", "choral voices"),
    "trumpet": ("trumpet",),
    "french horn": ("French horn", "horn"),
    "oboe": ("oboe",),
    "clarinet": ("clarinet",),
    "flute": ("flute", "concert flute", "transverse flute"),
    "pan flute": ("pan flute", "panpipes", "pan pipes"),
    "bagpipe": ("bagpipe", "bagpipes", "Highland pipes"),
}
# Who plays it, for "played by a cellist"; instruments without a common word for their player are left out.
INSTRUMENT_PLAYERS = {
    "acoustic grand piano": ("pianist",), "harpsichord": ("harpsichordist",), "vibraphone": ("vibraphonist",),
    "church organ": ("organist",), "accordion": ("accordionist",), "nylon-string guitar": ("guitarist",),
    "violin": ("violinist", "fiddler"), "cello": ("cellist",), "harp": ("harpist",), "trumpet": ("trumpeter",),
    "oboe": ("oboist",), "clarinet": ("clarinettist", "clarinetist"), "flute": ("flautist", "flutist"),
    "bagpipe": ("bagpiper",),
}
STYLE_SYNONYMS = {
    "baroque chorale": ("baroque chorale", "chorale", "Bach chorale", "Lutheran chorale", "hymn", "chorale setting"),
    "folk song": ("folk song", "folk melody", "folk tune", "traditional song"),
    "Irish folk tune": ("Irish folk tune", "Irish tune", "Irish traditional tune", "Irish folk melody",
                        "Celtic folk tune"),
}
# Head nouns that name no style: "a tune", "a piece".
GENERIC_NOUNS = ("piece", "tune", "melody", "composition", "song")

# Tempo bands of the paraphrases and of the evaluation's `tempo_band` label: [low, high) in BPM.
TEMPO_BANDS = {"slow": (0.0, 76.0), "moderate": (76.0, 108.0), "fast": (108.0, math.inf)}
# Tempo words and the BPM range [low, high) each one fits; each range lies inside one band. Italian markings only
# where the conventional range agrees (andante ~76-108; allegro from ~120; adagio below ~76).
TEMPO_WORDS = {
    "slow": (0, 76), "unhurried": (0, 76), "leisurely": (0, 76), "adagio": (0, 76),
    "moderate": (76, 108), "medium": (76, 108), "mid-tempo": (76, 108), "andante": (76, 108),
    "fast": (108, math.inf), "quick": (108, math.inf), "brisk": (108, math.inf), "up-tempo": (108, math.inf),
    "allegro": (120, math.inf),
}
# Adverbs for "played slowly"; the same ranges.
TEMPO_ADVERBS = {"slowly": (0, 76), "quickly": (108, math.inf), "briskly": (108, math.inf)}

BANDS = tuple(TEMPO_BANDS)
ANY_BAND, NOT_FAST, NOT_SLOW = BANDS, ("slow", "moderate"), ("moderate", "fast")
# mood word -> (implied mode or None, tempo bands it fits)
MOODS = {
    "sad": ("minor", NOT_FAST), "melancholy": ("minor", NOT_FAST), "melancholic": ("minor", NOT_FAST),
    "mournful": ("minor", ("slow",)), "sorrowful": ("minor", NOT_FAST), "wistful": ("minor", NOT_FAST),
    "plaintive": ("minor", NOT_FAST), "sombre": ("minor", NOT_FAST), "dark": ("minor", ANY_BAND),
    "brooding": ("minor", NOT_FAST), "happy": ("major", ANY_BAND), "bright": ("major", ANY_BAND),
    "cheerful": ("major", NOT_SLOW), "joyful": ("major", NOT_SLOW), "sunny": ("major", ANY_BAND),
    "upbeat": ("major", ("fast",)), "jolly": ("major", NOT_SLOW), "festive": ("major", NOT_SLOW),
    "playful": ("major", NOT_SLOW), "calm": (None, ("slow",)), "peaceful": (None, ("slow",)),
    "serene": (None, ("slow",)), "tranquil": (None, ("slow",)), "gentle": (None, NOT_FAST),
    "tender": (None, NOT_FAST), "solemn": (None, ("slow",)), "stately": (None, NOT_FAST),
    "energetic": (None, ("fast",)), "lively": (None, ("fast",)), "spirited": (None, ("fast",)),
    "restless": (None, ("fast",)), "agitated": (None, ("fast",)),
}
MODES = ("major", "minor")

# How a tonic's accidental may be written, and how a mode may follow the tonic: "{T}" is the tonic as written.
SHARP_SPELLINGS = ("#", "♯", " sharp", "-sharp")
FLAT_SPELLINGS = ("b", "♭", " flat", "-flat")
KEY_FORMS = {
    "minor": ("{T} minor", "{T}m", "{T} min", "{t}-minor", "the key of {T} minor"),
    "major": ("{T} major", "{T} maj", "{T}maj", "{t}-major", "the key of {T} major"),
}
_LABEL_KEY = re.compile(r"^([A-G])(#| sharp| flat|b)? (major|minor)$")


def split_key(label: str) -> tuple[str, str, str]:
    """A corpus key label ("C# minor", "B flat major", "Eb major") -> (letter, "sharp"/"flat"/"", mode)."""
    match = _LABEL_KEY.match(str(label).strip())
    if match is None:
        raise ValueError(f"key: expected a corpus key like 'C# minor' or 'B flat major', got {label!r}")
    letter, accidental, mode = match.groups()
    accidental = {None: "", "#": "sharp", " sharp": "sharp", " flat": "flat", "b": "flat"}[accidental]
    return letter, accidental, mode


def tempo_band(tempo_bpm: float) -> str:
    """The band ("slow", "moderate", "fast") a tempo falls in."""
    if not tempo_bpm > 0:
        raise ValueError(f"tempo_bpm: must be > 0, got {tempo_bpm!r}")
    return next(name for name, (low, high) in TEMPO_BANDS.items() if low <= tempo_bpm < high)


def tempo_words_for(tempo_bpm: float, table: dict = TEMPO_WORDS) -> list[str]:
    """The words of `table` whose range holds `tempo_bpm`."""
    return [word for word, (low, high) in table.items() if low <= tempo_bpm < high]


def moods_for(mode: str, tempo_bpm: float) -> list[str]:
    """Mood words that fit a clip in `mode` at `tempo_bpm`."""
    band = tempo_band(tempo_bpm)
    return [word for word, (implied, bands) in MOODS.items() if implied in (None, mode) and band in bands]


__all__ = ["FLAT_SPELLINGS", "GENERIC_NOUNS", "INSTRUMENT_PLAYERS", "INSTRUMENT_SYNONYMS", "KEY_FORMS", "MODES",
           "MOODS", "SHARP_SPELLINGS", "STYLE_SYNONYMS", "TEMPO_ADVERBS", "TEMPO_BANDS", "TEMPO_WORDS", "moods_for",
           "split_key", "tempo_band", "tempo_words_for"]
