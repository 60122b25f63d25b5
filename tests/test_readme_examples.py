"""Every ```python block in README.md runs as written, offline, in a fresh interpreter; the prompt vocabulary the
README lists is the corpus captions' own."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2
    assert any('pipeline("text-to-music")' in block for block in BLOCKS)
    assert any("AutoModelForTextToWaveform.from_pretrained(simba_music.demo_model_path())" in block
               for block in BLOCKS)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs_as_written(index, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")  # one thread: fastest on a shared CI machine
    result = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"README python block {index} failed:\n{BLOCKS[index]}\n{result.stderr[-3000:]}"
    if "print(out[" in BLOCKS[index]:  # the printed shapes are the ones the README states
        assert "(16000,) float32 16000" in result.stdout
        assert "(2, 1, 16000)" in result.stdout and "(2, 1, 50)" in result.stdout


def test_the_listed_prompt_words_are_the_corpus_vocabulary():
    from simba_music.captions.templates import INSTRUMENTS, tempo_word
    from simba_music_lab.corpus.sources import COLLECTION_GENRES

    text = README.read_text(encoding="utf-8")
    listed = re.search(r"- instruments: (.*?);\n", text, flags=re.S).group(1)
    assert [name.strip() for name in listed.replace("\n", " ").split(",")] == list(INSTRUMENTS.values())
    styles = re.search(r"- styles: (.*?);\n", text).group(1)
    assert [part.split(" (")[0] for part in styles.split(", ")] == ["baroque chorale", "folk song",
                                                                    "Irish folk tune"]
    assert set(COLLECTION_GENRES.values()) == {"baroque chorale", "folk song", "Irish folk tune"}
    # tempo words at the boundaries the README gives
    assert [tempo_word(bpm) for bpm in (65, 66, 89, 90, 115, 116)] == \
        ["slow", "moderate", "moderate", "lively", "lively", "fast"]
    assert "slow (under 66 BPM), moderate (66-89), lively (90-115), fast (116 and up)" in text
