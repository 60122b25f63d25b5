"""The SimbaMusic decoder: SSM and attention sublayers, the generation cache, and the kernel dispatch."""

from .cache import SimbaMusicCache
from .decoder import (
                          SimbaMusicCausalLMOutput,
                          SimbaMusicForCausalLM,
                          SimbaMusicModel,
                          SimbaMusicModelOutput,
                          SimbaMusicPreTrainedModel,
)
from .delay_pattern import apply_delay_pattern, undo_delay_pattern
from .kernels import force_fast_path, force_slow_path, kernel_report
from .positions import sinusoidal_positions

__all__ = [
    "SimbaMusicCache", "SimbaMusicCausalLMOutput", "SimbaMusicForCausalLM", "SimbaMusicModel", "SimbaMusicModelOutput",
    "SimbaMusicPreTrainedModel", "apply_delay_pattern", "force_fast_path", "force_slow_path", "kernel_report",
    "sinusoidal_positions", "undo_delay_pattern",
]
