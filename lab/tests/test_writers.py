"""The lab's writers keep every other writer's output: a training run's folder (or any output another simba-music
writer made) is refused before any work, naming that writer, and left byte for byte as it was."""

import pytest

from simba_music.io_utils import write_output_marker


def snapshot(folder):
    return sorted((str(path.relative_to(folder)), path.read_bytes() if path.is_file() else None)
                  for path in folder.rglob("*"))


@pytest.fixture
def training_run(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step-2.json").write_text("{}")
    write_output_marker(run, "simba-music train")
    return run


def test_corpus_build_refuses_a_training_run(training_run):
    from simba_music_lab.corpus.builder import CorpusConfig, build_corpus

    before = snapshot(training_run)
    with pytest.raises(ValueError, match="simba-music train"):
        build_corpus(CorpusConfig(output_dir=str(training_run), progress=False))
    assert snapshot(training_run) == before


def test_classifier_train_refuses_a_training_run(training_run, tmp_path):
    from simba_music_lab.evaluation.instrument_training import train_instrument_classifier

    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"audio": "a.wav", "caption": "x", "instrument": "harp", "split": "train"}\n')
    before = snapshot(training_run)
    with pytest.raises(ValueError, match="simba-music train"):
        train_instrument_classifier(str(manifest), str(training_run), progress=False)
    assert snapshot(training_run) == before
