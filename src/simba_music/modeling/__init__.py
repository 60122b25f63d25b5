"""The SimbaMusic decoder: SSM and attention sublayers, the generation cache, and the kernel dispatch."""

from .cache import SimbaMusicCache
from .kernels import force_fast_path, force_slow_path, kernel_report
from .delay_pattern import apply_delay_pattern, undo_delay_pattern
from .positions import sinusoidal_positions
from .decoder import (SimbaMusicCausalLMOutput, SimbaMusicForCausalLM, SimbaMusicModel, SimbaMusicModelOutput,
                          SimbaMusicPreTrainedModel)

__all__ = [
    "SimbaMusicCache", "SimbaMusicCausalLMOutput", "SimbaMusicForCausalLM", "SimbaMusicModel", "SimbaMusicModelOutput",
    "SimbaMusicPreTrainedModel", "apply_delay_pattern", "force_fast_path", "force_slow_path", "kernel_report",
    "sinusoidal_positions", "undo_delay_pattern",
]
