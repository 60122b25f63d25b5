import argparse

import numpy as np
import pytest

from simba_music.audio import normalize_loudness
from simba_music.captions.templates import make_caption
from simba_music_lab.corpus.builder import (
    SPREAD_TEMPO_RANGE,
    TEMPO_RANGES,
    TRANSPOSITIONS,
    choose_renderings,
    transposed_key,
)
from simba_music_lab.corpus.manifest import split_for_work, write_manifest
from simba_music_lab.corpus.render import cut_clips
from simba_music_lab.corpus.sources import list_scores


def test_split_fractions_follow_the_request_and_are_stable():
    splits = [split_for_work(f"work/{i}", 0.1, 0.2) for i in range(4000)]
    assert abs(splits.count("validation") / 4000 - 0.1) < 0.02
    assert abs(splits.count("test") / 4000 - 0.2) < 0.02
    assert splits == [split_for_work(f"work/{i}", 0.1, 0.2) for i in range(4000)]


@pytest.mark.parametrize("validation, test", [(-0.1, 0.1), (0.1, 1.0), (0.6, 0.5)])
def test_split_rejects_bad_fractions(validation, test):
    with pytest.raises(ValueError, match="fraction"):
        split_for_work("x", validation, test)


def test_bach_variants_share_a_work_and_the_prelude_is_excluded():
    refs = list_scores(["bach-chorales"])
    ids = {ref.score_id: ref.work_id for ref in refs}
    assert ids["bach/bwv248.9-1"] == ids["bach/bwv248.9-s"] == "bach/bwv248.9"
    assert not any("bwv846" in ref.score_id for ref in refs)
    assert len({ref.work_id for ref in refs}) > 350


def test_max_works_limits_each_collection():
    refs = list_scores(["bach-chorales", "oneills"], max_works=2)
    assert len({ref.work_id for ref in refs if ref.collection == "bach-chorales"}) == 2
    assert len({ref.work_id for ref in refs if ref.collection == "oneills"}) == 2
    with pytest.raises(ValueError, match="collections"):
        list_scores(["jazz"])
    with pytest.raises(ValueError, match="max_works"):
        list_scores(max_works=0)


def test_renderings_are_distinct_instruments_with_tempi_in_range():
    ref = list_scores(["bach-chorales"], max_works=1)[0]
    renderings = choose_renderings(ref, 3)
    assert renderings == choose_renderings(ref, 3)
    assert len({program for program, _, _ in renderings}) == 3
    low, high = TEMPO_RANGES["bach-chorales"]
    assert all(low <= tempo <= high and semitones == 0 for _, tempo, semitones in renderings)


def test_transposed_renderings_cover_every_key_and_spread_tempi_every_band():
    refs = list_scores(["bach-chorales"], max_works=40)
    plain = [choose_renderings(ref, 3) for ref in refs]
    moved = [choose_renderings(ref, 3, transpose=True, spread_tempi=True) for ref in refs]
    assert moved == [choose_renderings(ref, 3, transpose=True, spread_tempi=True) for ref in refs]
    # The same instruments; only the key and the tempo move.
    assert [[program for program, _, _ in r] for r in moved] == [[program for program, _, _ in r] for r in plain]
    semitones = [s for r in moved for _, _, s in r]
    assert set(semitones) == set(TRANSPOSITIONS)  # 120 renderings: every shift of -6..+5
    tempi = [tempo for r in moved for _, tempo, _ in r]
    assert all(SPREAD_TEMPO_RANGE[0] <= tempo <= SPREAD_TEMPO_RANGE[1] for tempo in tempi)
    assert min(tempi) < 66 and max(tempi) >= 116  # the slow and the fast caption words both occur
    low, high = TEMPO_RANGES["bach-chorales"]
    assert not all(low <= tempo <= high for tempo in tempi)


@pytest.mark.parametrize(("key", "semitones", "moved"), [
    ("F# minor", 3, "A minor"), ("B flat major", -2, "A flat major"), ("C major", -1, "B major"),
    ("E flat minor", 0, "E flat minor"), ("G major", 5, "C major")])
def test_transposed_key_names(key, semitones, moved):
    assert transposed_key(key, semitones) == moved


def test_captions_are_deterministic_and_use_several_templates():
    captions = [make_caption(f"clip{i}", "flute", 96, "D minor", "3/4", 1, "folk song", "traditional")
                for i in range(60)]
    assert captions == [make_caption(f"clip{i}", "flute", 96, "D minor", "3/4", 1, "folk song", "traditional")
                        for i in range(60)]
    assert len(set(captions)) >= 4
    assert all("flute" in caption.lower() and "D minor" in caption for caption in captions)
    with pytest.raises(ValueError, match="num_parts"):
        make_caption("c", "flute", 96, "D minor", "3/4", 0, "folk song", "traditional")
    # Seed 0 is the template every earlier build chose (a pinned sentence); another seed picks another template.
    assert captions[0] == "Folk song in D minor for flute, lively tempo (96 BPM), 3/4 meter, a single melodic line."
    reseeded = [make_caption("clip0", "flute", 96, "D minor", "3/4", 1, "folk song", "traditional", seed=seed)
                for seed in range(1, 9)]
    assert len(set(reseeded)) >= 3 and all("D minor" in caption for caption in reseeded)


def test_cut_clips_pads_the_last_clip_and_respects_limits():
    rate = 100
    audio = np.ones(int(25.5 * rate), dtype=np.float32)  # 23 s of music + 2.5 s of synth tail
    clips = cut_clips(audio, music_seconds=23.0, sample_rate=rate, clip_seconds=10.0, max_clips=5)
    assert [start for start, _ in clips] == [0.0, 10.0]  # the last 3 s fill < half a clip: dropped
    assert all(clip.shape == (1000,) for _, clip in clips)
    clips = cut_clips(audio, music_seconds=23.0, sample_rate=rate, clip_seconds=4.0, max_clips=10, min_fill=0.5)
    assert len(clips) == 6 and clips[-1][1][-1] == 1.0  # the 20-24 s clip keeps the synth's tail
    short = np.ones(23 * rate, dtype=np.float32)
    last = cut_clips(short, music_seconds=23.0, sample_rate=rate, clip_seconds=4.0, max_clips=10)[-1][1]
    assert last.shape == (400,) and last[299] == 1.0 and last[300] == 0.0  # zero-padded past the render's end
    assert len(cut_clips(audio, 23.0, rate, 4.0, max_clips=2)) == 2
    with pytest.raises(ValueError, match="clip_seconds"):
        cut_clips(audio, 23.0, rate, 0.0, 2)


def test_loudness_normalisation_hits_the_target_and_never_clips():
    rng = np.random.default_rng(0)
    quiet = (0.001 * rng.standard_normal(16000)).astype(np.float32)
    out = normalize_loudness(quiet, target_rms_db=-20.0)
    assert abs(20 * np.log10(np.sqrt(np.mean(out**2))) + 20.0) < 0.1
    spiky = np.zeros(16000, dtype=np.float32)
    spiky[::1000] = 1.0
    assert np.max(np.abs(normalize_loudness(spiky))) <= 0.95 + 1e-6


def test_write_manifest_requires_audio_and_caption(tmp_path):
    with pytest.raises(ValueError, match="rows"):
        write_manifest(tmp_path / "m.jsonl", [{"audio": "a.flac"}])


def test_cli_registers_corpus_build():
    from simba_music_lab.corpus.cli import add_subcommands

    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["corpus", "build", "out", "--max-works", "2", "--soundfont", "timgm6mb", "--no-progress",
                              "--collections", "essen", "oneills"])
    assert args.max_works == 2 and args.soundfont == "timgm6mb" and args.progress is False
    assert callable(args.func)
    # The options are the config's fields: names, types and defaults come from CorpusConfig itself.
    from simba_music_cli.parsing import dataclass_from_arguments
    from simba_music_lab.corpus.builder import CorpusConfig

    config = dataclass_from_arguments(CorpusConfig, args)
    assert config == CorpusConfig(output_dir="out", collections=("essen", "oneills"), soundfont="timgm6mb",
                                  max_works=2, progress=False)
    with pytest.raises(SystemExit):
        parser.parse_args(["corpus", "build", "out", "--collections", "no-such-collection"])


def test_folk_tunes_parse_into_single_melodies_with_key_and_meter():
    from simba_music_lab.corpus.score import read_score, to_pretty_midi

    for collection in ("essen", "oneills"):
        ref = list_scores([collection], max_works=1)[0]
        info = read_score(ref)
        assert info.num_parts == 1 and len(info.notes) > 20
        assert info.key.endswith(("major", "minor")) and "/" in info.meter
        midi = to_pretty_midi(info, program=73, tempo_bpm=120)
        assert abs(midi.get_end_time() - info.quarter_length * 0.5) < 0.05  # 120 BPM: half a second per quarter
    with pytest.raises(ValueError, match="program"):
        to_pretty_midi(info, program=128, tempo_bpm=120)


def test_a_file_that_is_no_soundfont_is_refused(tmp_path):
    """fluidsynth falls back to its default soundfont on a junk file, and the summary named the junk file."""
    from simba_music_lab.corpus.render import resolve_soundfont

    junk = tmp_path / "junk.sf2"
    junk.write_text("not a soundfont")
    with pytest.raises(ValueError, match="is not a SoundFont 2"):
        resolve_soundfont(str(junk))
    real = tmp_path / "tiny.sf2"
    real.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")
    assert resolve_soundfont(str(real)) == str(real)


def test_key_distribution_measures_how_peaked_the_keys_are():
    from simba_music_lab.corpus.keys import key_distribution

    uniform = key_distribution([f"{tonic} {mode}" for tonic in ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A",
                                                                  "Bb", "B") for mode in ("major", "minor")])
    assert uniform["distinct_keys"] == 24 and uniform["entropy_bits"] == uniform["uniform_entropy_bits"] == 4.585
    assert uniform["effective_keys"] == 24.0 and uniform["major_share"] == 0.5
    peaked = key_distribution(["G major"] * 6 + ["D major", "B flat major"] + ["A# major"])  # A# is B flat
    assert peaked["distinct_keys"] == 3 and peaked["most_common"][0] == ["G major", 6]
    assert peaked["most_common_share"] == pytest.approx(6 / 9, abs=1e-4) and peaked["counts"]["B flat major"] == 2
    assert 1.0 < peaked["effective_keys"] < 3.0
    with pytest.raises(ValueError, match="keys: none given"):
        key_distribution([])
