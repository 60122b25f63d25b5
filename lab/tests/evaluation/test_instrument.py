import json

import numpy as np
import pytest

from simba_music_lab.cli import main
from simba_music_lab.evaluation.instrument import FEATURE_SIZE, InstrumentClassifier, instrument_features
from simba_music_lab.evaluation.instrument_training import balanced_subset, train_instrument_classifier

from .conftest import RATE, midi_hz, tone, write_manifest


def _flute(note, seconds=1.0):
    return tone([midi_hz(note)], seconds, harmonics=1)  # a pure tone


def _buzz(note, seconds=1.0):
    return tone([midi_hz(note)], seconds, harmonics=12) * np.exp(-np.arange(int(seconds * RATE)) / (0.2 * RATE))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    directory = tmp_path_factory.mktemp("classifier")
    clips = []
    for split, notes in (("train", [57, 60, 62, 64, 65, 67]), ("test", [59, 69, 72])):
        for note in notes:
            clips.append((_flute(note), {"split": split, "instrument": "flute"}))
            clips.append((_buzz(note), {"split": split, "instrument": "buzz"}))
    return write_manifest(directory, clips)


def test_features_ignore_loudness():
    audio = _buzz(60)
    assert instrument_features(audio, RATE).shape == (FEATURE_SIZE,)
    np.testing.assert_allclose(instrument_features(audio, RATE), instrument_features(0.1 * audio, RATE), rtol=1e-4,
                               atol=1e-4)


def test_balanced_subset():
    rows = [{"instrument": name, "i": i} for i in range(5) for name in ("a", "b")] + [{"instrument": "c", "i": 0}]
    chosen = balanced_subset(rows, 3, seed=1)
    assert [row["instrument"] for row in chosen] == ["a"] * 3 + ["b"] * 3 + ["c"]
    assert chosen == balanced_subset(rows, 3, seed=1)


def test_train_save_load_predict(manifest, tmp_path, capsys):
    output = tmp_path / "classifier"
    status = main(["classifier", "train", manifest, "--output-dir", str(output), "--per-class", "5",
                   "--epochs", "150", "--quiet"])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["train_clips"] == 10 and printed["test"]["clips"] == 6
    assert printed["test"]["accuracy"] == 1.0 and printed["test"]["chance_uniform"] == 0.5
    assert printed["test"]["majority_class_rate"] == 0.5
    model = InstrumentClassifier.load(output)
    assert model.labels == ["buzz", "flute"] and model.metrics["test"]["accuracy"] == 1.0
    label, probabilities = model.predict(_buzz(70), RATE)
    assert label == "buzz" and probabilities["buzz"] > 0.5
    assert sum((output / name).stat().st_size for name in ("model.safetensors", "config.json")) < 1_000_000


@pytest.mark.parametrize("directory", [None, "pitch-codec", "chorale-codec", "chorale-wavtokenizer"])
def test_shipped_classifiers_are_small_and_know_the_corpus_instruments(directory):
    from simba_music_lab.evaluation.instrument import CHORALE_CODEC_DIR, PITCH_CODEC_DIR, WAVTOKENIZER_CODEC_DIR

    folders = {"pitch-codec": PITCH_CODEC_DIR, "chorale-codec": CHORALE_CODEC_DIR,
               "chorale-wavtokenizer": WAVTOKENIZER_CODEC_DIR}
    model = InstrumentClassifier.load(folders.get(directory))
    assert len(model.labels) == 16 and "acoustic grand piano" in model.labels
    assert model.metrics["test"]["accuracy"] > 0.9 and model.metrics["test"]["clips"] >= 320
    assert (model.metrics.get("through_codec") is not None) == bool(directory)


@pytest.mark.parametrize("codec_name", ["pitch-codec-16khz", "chorale-codec-16khz", "chorale-wavtokenizer-16khz"])
def test_a_shipped_codec_gets_the_classifier_trained_through_it_and_a_changed_one_does_not(codec_name):
    import torch
    from transformers import AutoModel

    from simba_music_lab.codec.pretrained import pretrained_codec_path
    from simba_music_lab.evaluation.instrument import CLASSIFIER_THROUGH_CODEC, PRETRAINED_DIR, default_classifier_dir

    codec = AutoModel.from_pretrained(pretrained_codec_path(codec_name))
    assert default_classifier_dir(codec) == CLASSIFIER_THROUGH_CODEC[codec_name] != PRETRAINED_DIR
    with torch.no_grad():  # one weight nudged: a fine-tuned codec sounds different, so no codec classifier applies
        next(iter(codec.parameters())).view(-1)[0] += 1e-3
    assert default_classifier_dir(codec) == PRETRAINED_DIR
    tiny = AutoModel.from_config(type(codec.config)(**{**codec.config.to_dict(), "codebook_size": 16}))
    assert default_classifier_dir(tiny) == PRETRAINED_DIR  # other shapes: refused without an error


def test_load_names_the_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="instrument_classifier: .*has no model.safetensors"):
        InstrumentClassifier.load(tmp_path)


def test_training_through_a_codec_hears_the_round_trip(manifest, tmp_path):
    from transformers import EncodecModel

    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music.testing_utils import tiny_codec
    from simba_music.training.manifest import read_manifest
    from simba_music_lab.evaluation.features import load_audio
    from simba_music_lab.evaluation.instrument_training import clip_features, round_trip, train_instrument_classifier

    codec_dir = tmp_path / "codec"
    tiny_codec(sampling_rate=RATE).save_pretrained(codec_dir)
    codec = AudioCodec(EncodecModel.from_pretrained(codec_dir).eval(), 1)
    rows = read_manifest(manifest, "train")[:2]
    assert round_trip(rows[0], codec).shape == load_audio(rows[0]["audio"]).shape
    clean, through = clip_features(rows, False), clip_features(rows, False, codec=codec)
    assert clean.shape == through.shape and np.abs(clean - through).max() > 0.1  # it hears the codec's version

    metrics = train_instrument_classifier(manifest, tmp_path / "classifier", per_class=2, epochs=5,
                                          through_codec=str(codec_dir), progress=False)
    assert metrics["through_codec"] == {"codec": str(codec_dir), "codebooks": 1}
    assert InstrumentClassifier.load(tmp_path / "classifier").metrics["through_codec"]["codebooks"] == 1


def test_training_without_an_output_dir_is_refused_and_the_package_is_untouched(manifest, capsys):
    from simba_music_lab.evaluation.instrument import PRETRAINED_DIR

    before = {path.name: path.stat().st_mtime_ns for path in PRETRAINED_DIR.iterdir()}
    with pytest.raises(SystemExit) as raised:
        main(["classifier", "train", manifest, "--per-class", "5", "--epochs", "5", "--quiet"])
    assert raised.value.code == 2 and "--output-dir" in capsys.readouterr().err
    with pytest.raises(TypeError, match="output_dir"):
        train_instrument_classifier(manifest, per_class=5, epochs=5, progress=False)
    assert {path.name: path.stat().st_mtime_ns for path in PRETRAINED_DIR.iterdir()} == before
