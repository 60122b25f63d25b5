"""The shipped prompt sets (templates, free-form, keys), the prompt reader's key spellings, and per-set scoring of the
labels a prompt states, with chance levels."""

import json

import pytest

from simba_music_lab.evaluation.harness import adherence, summarise, summarise_by_set
from simba_music_lab.evaluation.instrument import CONFIG_FILE, PRETRAINED_DIR
from simba_music_lab.evaluation.key import parse_key
from simba_music_lab.evaluation.prompt_labels import read_labels
from simba_music_lab.evaluation.prompts import DEMO_PROMPTS, FREEFORM_PROMPTS, KEY_PROMPTS, read_prompts


def test_sets_by_name_and_path():
    templates, freeform, keys = read_prompts("templates"), read_prompts("freeform"), read_prompts("keys")
    assert len(templates) == 32 and len(freeform) == 35 and read_prompts("all") == templates + freeform + keys
    assert read_prompts(KEY_PROMPTS) == keys
    assert {row["prompt_set"] for row in templates} == {"templates"}
    assert {row["prompt_set"] for row in freeform} == {"freeform"}
    assert read_prompts(str(DEMO_PROMPTS)) == templates and read_prompts(FREEFORM_PROMPTS) == freeform
    assert {row["prompt_set"] for row in read_prompts([{"caption": "x"}])} == {"prompts"}
    with pytest.raises(ValueError, match="no such file.*freeform"):
        read_prompts("free-form")


def test_the_key_prompts_ask_for_every_key_at_six_tempi():
    """Issue 30's measure: prompts in 12 or more keys and 6 or more tempi. Each prompt's caption states its labels."""
    rows = read_prompts("keys")
    known = set(json.loads((PRETRAINED_DIR / CONFIG_FILE).read_text())["labels"])
    assert len({parse_key(row["key"]) for row in rows}) == 24 == len(rows)
    assert len({row["tempo_bpm"] for row in rows}) == 6
    for row in rows:
        found = read_labels(row["caption"])
        assert row["instrument"] in known and found["instruments"] == {row["instrument"]}, row
        assert found["keys"] == {parse_key(row["key"])} and found["tempo_bpm"] == {row["tempo_bpm"]}, row


def test_freeform_labels_are_what_the_text_states():
    """Each free-form prompt is labelled with exactly the instrument, key, mode and tempo its words state, and only
    with instruments the evaluation's classifier knows."""
    known = set(json.loads((PRETRAINED_DIR / CONFIG_FILE).read_text())["labels"])
    rows = read_prompts("freeform")
    for row in rows:
        found = read_labels(row["caption"])
        assert row["instrument"] in known and found["instruments"] == {row["instrument"]}, row
        assert found["keys"] == ({parse_key(row["key"])} if row.get("key") else set()), row
        mode = parse_key(row["key"])[1] if row.get("key") else row.get("mode")
        assert found["modes"] == ({mode} if mode else set()), row
        assert found["tempo_bands"] == ({row["tempo_band"]} if row.get("tempo_band") else set()), row
        assert found["tempo_bpm"] == ({row["tempo_bpm"]} if row.get("tempo_bpm") else set()), row
    assert sum("key" in row for row in rows) >= 20 and sum("tempo_band" in row for row in rows) >= 12
    assert sum("mode" in row for row in rows) >= 6
    assert len({row["instrument"] for row in rows}) == len(known)


@pytest.mark.parametrize(("text", "key"), [
    ("D minor", "D minor"), ("Dm", "D minor"), ("d-minor", "D minor"), ("in the key of D minor", "D minor"),
    ("D min", "D minor"), ("C♯m", "C# minor"), ("c-sharp-minor", "C# minor"), ("C sharp minor", "C# minor"),
    ("Bb maj", "B flat major"), ("B♭maj", "B flat major"), ("e♭-major", "E flat major"), ("D flat major", "C# major"),
    ("F#maj", "F# major"), ("Ebm", "E flat minor")])
def test_key_spellings_are_read(text, key):
    found = read_labels(f"a violin tune in {text}, please")
    assert found["keys"] == {parse_key(key)} and found["instruments"] == {"violin"}


def test_reader_keeps_phrases_apart():
    assert read_labels("pan flute and piano accordion")["instruments"] == {"pan flute", "accordion"}
    assert read_labels("a tune in a minor key")["keys"] == set()
    assert read_labels("a tune in a minor key")["modes"] == {"minor"}
    assert read_labels("a calm tune played slowly")["tempo_bands"] == {"slow"}
    assert read_labels("about 130 bpm")["tempo_bands"] == {"fast"}


def test_bad_mode_or_band_is_refused(tmp_path):
    path = tmp_path / "prompts.jsonl"
    for line, message in [({"caption": "x", "mode": "dorian"}, "'mode' must be one of major, minor"),
                          ({"caption": "x", "key": "C major", "mode": "minor"}, "contradicts 'key'"),
                          ({"caption": "x", "tempo_band": "presto"}, "'tempo_band' must be one of slow")]:
        path.write_text(json.dumps(line) + "\n")
        with pytest.raises(ValueError, match=message):
            read_prompts(str(path))


def test_mode_and_band_scores_and_chance_levels():
    found = {"predicted_instrument": "violin", "estimated_key": "A minor", "estimated_tempo_bpm": 150.0}
    scores = adherence(found, {"mode": "minor", "tempo_band": "fast"})
    assert scores["mode_correct"] is True and scores["tempo_band_correct"] is True
    assert scores["instrument_correct"] is None and scores["key_score"] is None and scores["tempo_correct"] is None
    scores = adherence(found, {"key": "C major", "tempo_bpm": 75})  # mode from the key, band from the BPM
    assert scores["mode_correct"] is False and scores["tempo_band_correct"] is False and scores["key_score"] == 0.5
    assert scores["tempo_correct"] is True  # 150 is twice 75: right for the octave-tolerant tempo check
    assert adherence({**found, "estimated_tempo_bpm": 0.0}, {"tempo_band": "slow"})["tempo_band_correct"] is False

    rows = [{"prompt_set": "templates", **adherence(found, {"instrument": "violin", "key": "A minor"})},
            {"prompt_set": "freeform", **adherence(found, {"instrument": "cello", "mode": "minor"})},
            {"prompt_set": "freeform", **adherence(found, {"instrument": "violin", "tempo_band": "slow"})}]
    by_set = summarise_by_set(rows, labels=16)
    assert list(by_set) == ["templates", "freeform"]
    assert by_set["templates"]["key"]["exact_accuracy"] == 1.0 and by_set["templates"]["mode"]["accuracy"] == 1.0
    free = by_set["freeform"]
    assert free["instrument"]["accuracy"] == 0.5 and free["instrument"]["clips"] == 2
    assert free["key"]["clips"] == 0 and free["mode"]["clips"] == 1 and free["tempo_band"]["accuracy"] == 0.0
    overall = summarise(rows, labels=16)
    assert overall["instrument"]["accuracy"] == pytest.approx(2 / 3) and overall["instrument"]["chance"] == 1 / 16
    assert overall["mode"]["chance"] == 0.5 and overall["tempo_band"]["chance"] == pytest.approx(1 / 3)
    assert overall["key"]["chance_exact"] == pytest.approx(1 / 24)
    assert overall["key"]["distinct_keys_heard"] == 0  # the rows above carry no estimate


def test_the_key_summary_says_how_spread_the_heard_keys_are():
    rows = [{"estimated_key": key, "key_score": score} for key, score in
            (("G major", 1.0), ("G major", 0.0), ("G major", 0.5), ("D minor", 1.0))]
    key = summarise([{**row, "tempo_ratio": None} for row in rows], labels=16)["key"]
    assert key["distinct_keys_heard"] == 2 and key["most_common_key"] == "G major"
    assert key["most_common_key_share"] == 0.75 and key["exact_accuracy"] == 0.5
