"""simba-music: state-space (SiMBA/Mamba) text-to-music generation for the Hugging Face ecosystem."""

__version__ = "0.1.0"
