import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A few works rendered with the small soundfont: the CI-sized build."""
    from simba_music_lab.corpus.builder import CorpusConfig, build_corpus
    from simba_music_lab.corpus.render import SOUNDFONTS, fluidsynth_available

    if not fluidsynth_available():
        pytest.skip("fluidsynth is not on PATH (apt-get install fluidsynth timgm6mb-soundfont)")
    if not os.path.isfile(SOUNDFONTS["timgm6mb"]):
        pytest.skip(f"soundfont {SOUNDFONTS['timgm6mb']} missing (apt-get install timgm6mb-soundfont)")
    output = tmp_path_factory.mktemp("tiny_corpus")
    config = CorpusConfig(
        output_dir=str(output),
        collections=("bach-chorales", "oneills"),
        soundfont="timgm6mb",
        clip_seconds=4.0,
        max_clips_per_render=2,
        instruments_per_work=2,
        max_works=3,
        validation_fraction=0.3,
        test_fraction=0.3,
        progress=False,
    )
    summary = build_corpus(config)
    return output, summary, config
