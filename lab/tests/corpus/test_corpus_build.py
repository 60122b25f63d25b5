import json
import os

import numpy as np
import pytest
import soundfile as sf

from simba_music.training.manifest import read_manifest
from simba_music_lab.corpus.builder import caption_for_row, recaption_manifest

pytestmark = pytest.mark.slow  # every test reads a corpus rendered with fluidsynth


def test_tiny_build_has_every_work_and_no_failures(tiny_corpus):
    output, summary, _ = tiny_corpus
    assert summary["failures"] == {}
    assert summary["works"] == 6  # 3 chorales + 3 O'Neill tunes
    assert summary["clips"] >= 12
    on_disk = json.loads((output / "summary.json").read_text())
    assert on_disk["clips"] == summary["clips"]
    assert not (output / "manifest.partial.jsonl").exists()


def test_clips_have_the_fixed_length_and_are_not_silent(tiny_corpus):
    output, _, config = tiny_corpus
    rows = read_manifest(output / "manifest.jsonl")
    for row in rows:
        audio, rate = sf.read(row["audio"], dtype="float32")
        assert rate == config.sample_rate
        assert audio.ndim == 1
        assert audio.shape[0] == int(config.clip_seconds * config.sample_rate)
        rms_db = 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)
        assert rms_db > -40, f"{row['audio']} is nearly silent ({rms_db:.1f} dB)"
        assert np.max(np.abs(audio)) <= 1.0


def test_split_is_by_work_never_by_clip(tiny_corpus):
    output, _, _ = tiny_corpus
    rows = read_manifest(output / "manifest.jsonl")
    split_of_work = {}
    for row in rows:
        assert split_of_work.setdefault(row["work_id"], row["split"]) == row["split"]
    assert len(set(split_of_work.values())) >= 2  # with 30 % / 30 % fractions six works do not all land in train


def test_captions_are_recomputable_from_the_row_metadata(tiny_corpus):
    output, _, _ = tiny_corpus
    rows = read_manifest(output / "manifest.jsonl")
    for row in rows:
        assert row["caption"] == caption_for_row(row)
        assert row["instrument"] in row["caption"].lower()
        assert str(row["tempo_bpm"]) in row["caption"]
        assert row["key"] in row["caption"]
    assert len({row["caption"] for row in rows}) > len(rows) // 2


def test_manifest_rows_carry_the_metadata_and_relative_paths(tiny_corpus):
    output, _, _ = tiny_corpus
    raw = [json.loads(line) for line in (output / "manifest.jsonl").read_text().splitlines()]
    for row in raw:
        assert not row["audio"].startswith("/")
        for field in ("work_id", "instrument", "program", "tempo_bpm", "key", "meter", "split", "license", "genre"):
            assert field in row
    chorale = next(row for row in raw if row["collection"] == "bach-chorales")
    assert chorale["num_parts"] >= 4 and chorale["composer"] == "J. S. Bach"
    train = read_manifest(output / "manifest.jsonl", split="train")
    assert 0 < len(train) < len(raw)
    assert all(row["split"] == "train" for row in train)


def test_recaption_rewrites_edited_captions_only(tiny_corpus, tmp_path):
    output, _, _ = tiny_corpus
    lines = (output / "manifest.jsonl").read_text().splitlines()
    edited = [json.loads(line) for line in lines]
    edited[0]["caption"] = "stale caption"
    copy = tmp_path / "manifest.jsonl"
    copy.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in edited))
    assert recaption_manifest(copy) == 1
    assert copy.read_text().splitlines() == lines


def test_a_transposed_build_moves_the_audio_and_states_the_rendered_key(tmp_path):
    """`--transpose`: the manifest's key is the rendered one, and the audio moved by the stated semitones (its
    chroma is the untransposed rendering's, rotated)."""
    import librosa

    from simba_music_lab.corpus.builder import CorpusConfig, build_corpus, transposed_key
    from simba_music_lab.corpus.render import SOUNDFONTS

    config = dict(collections=("bach-chorales",), soundfont="timgm6mb", clip_seconds=4.0, max_clips_per_render=1,
                  instruments_per_work=3, max_works=2, validation_fraction=0.0, test_fraction=0.0, progress=False)
    if not os.path.isfile(SOUNDFONTS["timgm6mb"]):
        pytest.skip("the timgm6mb soundfont is missing")
    plain = read_manifest(_build(build_corpus, CorpusConfig(output_dir=str(tmp_path / "plain"), **config)))
    moved = read_manifest(_build(build_corpus, CorpusConfig(output_dir=str(tmp_path / "moved"), transpose=True,
                                                            **config)))
    assert len(plain) == len(moved) == 6
    shifted = 0
    for before, after in zip(plain, moved, strict=True):
        semitones = after["transpose_semitones"]
        assert after["key"] == transposed_key(before["key"], semitones) and after["score_key"] == before["key"]
        assert f":s{semitones}:" in after["clip_id"] and after["key"] in after["caption"]
        chroma = [librosa.feature.chroma_cqt(y=sf.read(row["audio"], dtype="float32")[0], sr=16000).mean(axis=1)
                  for row in (before, after)]
        rotations = [float(np.dot(np.roll(chroma[0], shift), chroma[1])) for shift in range(12)]
        assert int(np.argmax(rotations)) == semitones % 12, (after["clip_id"], rotations)
        shifted += semitones != 0
    assert shifted >= 4


def _build(build_corpus, config):
    from pathlib import Path

    build_corpus(config)
    return str(Path(config.output_dir) / "manifest.jsonl")
