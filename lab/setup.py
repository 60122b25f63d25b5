from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="simba-music-lab",
    version="0.1.0",
    description="The simba-music research lab: offline corpus, codec training and measurement, model evaluation",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    # The weights only the lab uses: a second codec, the instrument classifiers, the estimators' validation record.
    package_data={"simba_music_lab": ["pretrained/*.json", "pretrained/*/*.json", "pretrained/*/*.safetensors",
                                      "pretrained/*/*.md", "pretrained/*/*.txt", "evaluation/*.jsonl"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "simba-music",
        # The offline corpus: music21 ships the scores, pretty_midi writes MIDI; rendering needs Debian's fluidsynth.
        "music21>=9",
        "pretty_midi>=0.2.10",
        # Note F1: basic-pitch's ONNX model run by onnxruntime. basic-pitch itself pins tensorflow on Linux/Python
        # >= 3.11, so it cannot be a dependency: `pip install --no-deps basic-pitch` (only its model file is used).
        "onnxruntime>=1.16",
        # The key and comb measures judge audio with a tool this project did not write (librosa, ISC licence).
        "librosa>=0.10",
    ],
    extras_require={"dev": ["pytest>=8", "pytest-timeout", "hypothesis", "psutil"]},
    entry_points={"console_scripts": ["simba-music-lab=simba_music_lab.cli:main"]},
)
