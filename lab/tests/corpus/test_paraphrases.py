"""Paraphrased captions: they never contradict their labels (read back with the evaluation's prompt reader), they use
every listed form, they are fixed by the seed, and the held-out free-form evaluation prompts are none of them."""

import json
import random
import re
from collections import Counter

import pytest

from simba_music.captions.paraphrases import paraphrase_caption
from simba_music.captions.templates import INSTRUMENTS, make_caption
from simba_music.captions.vocabulary import (
    INSTRUMENT_SYNONYMS,
    MOODS,
    STYLE_SYNONYMS,
    TEMPO_BANDS,
    TEMPO_WORDS,
    moods_for,
    split_key,
    tempo_band,
)
from simba_music_lab.corpus.builder import CorpusConfig, caption_for_row, recaption_manifest
from simba_music_lab.corpus.manifest import write_manifest
from simba_music_lab.evaluation.key import parse_key
from simba_music_lab.evaluation.prompt_labels import read_labels
from simba_music_lab.evaluation.prompts import read_prompts

# Spelled as the corpus spells keys (music21's names, "-" read as " flat"), plus the "Eb" style a manifest may hold.
KEYS = ("C major", "D minor", "C# minor", "F# major", "B flat major", "E flat minor", "A flat major", "G# minor",
        "Eb major", "B minor")
GENRES = tuple(STYLE_SYNONYMS)


def random_labels(rng: random.Random) -> dict:
    return {"instrument": rng.choice(list(INSTRUMENTS.values())), "tempo_bpm": rng.randrange(56, 141),
            "key": rng.choice(KEYS), "meter": rng.choice(("3/4", "4/4", "6/8")), "num_parts": rng.choice((1, 4)),
            "genre": rng.choice(GENRES)}


def sample(count: int, seed: int = 0) -> list[tuple[dict, str]]:
    rng = random.Random(1234)
    out = []
    for index in range(count):
        labels = random_labels(rng)
        out.append((labels, paraphrase_caption(f"clip{index}", **labels, seed=seed)))
    return out


def contradictions(labels: dict, caption: str) -> list[str]:
    found = read_labels(caption)
    band = tempo_band(labels["tempo_bpm"])
    checks = {"instrument": found["instruments"] <= {labels["instrument"]},
              "style": found["styles"] <= {labels["genre"]},
              "key": found["keys"] <= {parse_key(labels["key"])},
              "mode": found["modes"] <= {split_key(labels["key"])[2]},
              "bpm": found["tempo_bpm"] <= {labels["tempo_bpm"]},
              "tempo band": found["tempo_bands"] <= {band},
              "mood": band in found["mood_bands"],
              "states something": any(found[name] for name in ("instruments", "styles", "keys", "moods",
                                                               "tempo_bands"))}
    return [name for name, ok in checks.items() if not ok]


def test_no_paraphrase_contradicts_its_labels():
    wrong = [(labels, caption, problems) for labels, caption in sample(2500)
             if (problems := contradictions(labels, caption))]
    assert wrong == []


def test_the_reader_catches_a_contradiction():  # the check above can fail
    labels = {"instrument": "violin", "tempo_bpm": 60, "key": "D minor", "genre": "folk song"}
    assert contradictions(labels, "a sad violin folk song in Dm at 60 bpm") == []
    assert contradictions(labels, "a viola da gamba piece") == ["states something"]
    for caption, problem in [("a cheerful violin tune", "mode"), ("a sad cello tune", "instrument"),
                             ("violin in D major", "key"), ("fast violin", "tempo band"), ("energetic violin", "mood"),
                             ("violin hymn", "style"), ("violin, 61 BPM", "bpm"), ("violin in d♯-minor", "key")]:
        assert problem in contradictions(labels, caption), caption


def test_paraphrases_use_every_listed_form():
    captions = [caption for _, caption in sample(2000)]
    read = [read_labels(caption) for caption in captions]
    text = "\n".join(captions)
    for form in (r"\bD minor\b", r"\bDm\b", r"\bd-minor\b", r"in the key of D minor", r"\bD min\b",
                 r"\bC# minor", r"C♯", r"C sharp", r"c-sharp-minor", r"\bB flat major", r"\bBb\b", r"B♭", r"b♭-major",
                 r"\bBbm\b|\bEbm\b", r"\bEbmaj\b|\bBbmaj\b", r"\d+ BPM", r"\d+ bpm", r"beats per minute"):
        assert re.search(form, text), f"no caption writes a key or tempo as {form!r}"
    for instrument, synonyms in INSTRUMENT_SYNONYMS.items():
        labels = {"instrument": instrument, "tempo_bpm": 100, "key": "G major", "meter": "4/4", "num_parts": 4,
                  "genre": "folk song"}
        own = " ".join(paraphrase_caption(f"c{i}", **labels) for i in range(300)).lower()
        assert all(re.search(r"(?<![a-z])" + re.escape(word.lower()) + r"(?![a-z])", own) for word in synonyms), \
            instrument
    assert all(re.search(r"(?<![a-z])" + re.escape(word.lower()), text.lower())
               for words in STYLE_SYNONYMS.values() for word in words)
    moods = Counter(mood for found in read for mood in found["moods"])
    assert len(moods) >= 25, moods
    for band in TEMPO_BANDS:
        assert any(found["tempo_bands"] == {band} and not found["tempo_bpm"] for found in read), \
            f"no {band} tempo said in words"
    stated = Counter()
    for found in read:
        kinds = frozenset(name for name in ("instruments", "keys", "moods", "tempo_bands", "styles") if found[name])
        stated[kinds] += 1
    assert stated[frozenset({"instruments"})] > 40  # only an instrument
    assert stated[frozenset({"moods"})] > 40  # only a mood
    assert stated[frozenset({"instruments", "keys"})] > 80
    assert stated[frozenset({"instruments", "keys", "tempo_bands"})] > 80
    assert sum(count for kinds, count in stated.items() if "keys" in kinds) > 0.5 * len(captions)
    assert len(set(captions)) > 0.95 * len(captions)


def test_word_order_is_free():
    labels = {"instrument": "cello", "tempo_bpm": 90, "key": "D minor", "meter": "4/4", "num_parts": 4,
              "genre": "baroque chorale"}
    order = Counter()
    for index in range(600):
        caption = paraphrase_caption(f"c{index}", **labels)
        key, cello = re.search(r"(?<![A-Za-z])[Dd](m\b|-minor| min| minor)", caption), re.search("cello", caption)
        if key and cello:
            order["instrument first" if cello.start() < key.start() else "key first"] += 1
    assert order["instrument first"] > 60 and order["key first"] > 60, order


def test_paraphrases_are_fixed_by_the_seed():
    labels = {"instrument": "cello", "tempo_bpm": 64, "key": "F# minor", "meter": "3/4", "num_parts": 1,
              "genre": "Irish folk tune"}
    first = [paraphrase_caption(f"c{i}", **labels, seed=3) for i in range(50)]
    assert first == [paraphrase_caption(f"c{i}", **labels, seed=3) for i in range(50)]
    other = [paraphrase_caption(f"c{i}", **labels, seed=4) for i in range(50)]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 40
    assert first[0] == make_caption("c0", "cello", 64, "F# minor", "3/4", 1, "Irish folk tune", "traditional",
                                    style="paraphrases", seed=3)
    with pytest.raises(ValueError, match="caption_style"):
        make_caption("c0", "cello", 64, "F# minor", "3/4", 1, "Irish folk tune", "traditional", style="poems")
    with pytest.raises(ValueError, match="instrument"):
        paraphrase_caption("c0", "kazoo", 64, "F# minor", "3/4", 1, "Irish folk tune")
    with pytest.raises(ValueError, match="caption_style"):
        CorpusConfig(output_dir="x", caption_style="poems").check()


def test_vocabulary_is_consistent():
    assert set(INSTRUMENT_SYNONYMS) == set(INSTRUMENTS.values())
    for word, (low, high) in TEMPO_WORDS.items():  # every tempo word names one band
        assert tempo_band(max(low, 1)) == tempo_band(min(high, 400) - 0.01), word
    for mode in ("major", "minor"):
        for bpm in (60, 90, 130):
            assert len(moods_for(mode, bpm)) >= 4, (mode, bpm)
    assert all(mode in (None, "major", "minor") for mode, _ in MOODS.values())
    assert split_key("B flat minor") == ("B", "flat", "minor") and split_key("C# major") == ("C", "sharp", "major")
    with pytest.raises(ValueError, match="key"):
        split_key("H dorian")


def test_freeform_prompts_are_not_generated_for_training():
    """Exact strings: no caption the generator writes for the prompts' own labels (any seed, clip, tempo, genre) is
    one of the free-form evaluation prompts, even ignoring case and a final full stop."""
    prompts = read_prompts("freeform")
    held_out = {row["caption"].lower().rstrip(".") for row in prompts}
    rng = random.Random(7)
    generated = set()
    for row in prompts:
        low, high = TEMPO_BANDS[row.get("tempo_band", rng.choice(list(TEMPO_BANDS)))]
        for index in range(300):
            key = row.get("key") or rng.choice([k for k in KEYS if k.endswith(row.get("mode", ""))])
            bpm = row.get("tempo_bpm") or rng.randrange(int(max(low, 56)), int(min(high, 141)))
            caption = paraphrase_caption(f"{row['caption']}:{index}", row["instrument"], bpm, key, "4/4",
                                         rng.choice((1, 4)), rng.choice(GENRES), seed=index % 3)
            generated.add(caption.lower().rstrip("."))
    generated |= {caption.lower().rstrip(".") for _, caption in sample(5000)}
    assert len(generated) > 12000
    assert held_out.isdisjoint(generated)


def test_recaption_switches_style_and_back(tmp_path):
    rows = [{"audio": f"audio/{i}.flac", "clip_id": f"work{i}:p40:t70:c0", "instrument": "violin", "tempo_bpm": 70,
             "key": "D minor", "meter": "3/4", "num_parts": 1, "genre": "folk song", "composer": "traditional",
             "split": "train"} for i in range(20)]
    for row in rows:
        row["caption"] = caption_for_row(row)
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, rows)
    original = path.read_bytes()
    assert recaption_manifest(path, "paraphrases", 1) == 20
    changed = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(row["caption_style"] == "paraphrases" and row["caption_seed"] == 1 for row in changed)
    assert recaption_manifest(path) == 0  # each row keeps its own style and seed
    assert recaption_manifest(path, caption_seed=2) > 15  # another variant
    assert recaption_manifest(path, "templates") == 20
    assert path.read_bytes() == original  # template manifests come back byte for byte
    with pytest.raises(ValueError, match="caption_style"):
        recaption_manifest(path, "poems")
