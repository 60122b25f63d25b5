"""simba-music: state-space (SiMBA/Mamba) text-to-music generation for the Hugging Face ecosystem."""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from .configuration_simba_music import SimbaMusicConfig
from .modeling import (SimbaMusicCache, SimbaMusicForCausalLM, SimbaMusicModel, force_slow_path, kernel_report)

__version__ = "0.1.0"

AutoConfig.register(SimbaMusicConfig.model_type, SimbaMusicConfig, exist_ok=True)
AutoModel.register(SimbaMusicConfig, SimbaMusicModel, exist_ok=True)
AutoModelForCausalLM.register(SimbaMusicConfig, SimbaMusicForCausalLM, exist_ok=True)

__all__ = ["SimbaMusicCache", "SimbaMusicConfig", "SimbaMusicForCausalLM", "SimbaMusicModel", "force_slow_path",
           "kernel_report"]
