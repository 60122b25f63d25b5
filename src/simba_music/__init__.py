"""simba-music: state-space (SiMBA/Mamba) text-to-music generation for the Hugging Face ecosystem."""

from transformers import (
                          AutoConfig,
                          AutoFeatureExtractor,
                          AutoModel,
                          AutoModelForCausalLM,
                          AutoModelForTextToWaveform,
                          AutoProcessor,
                          EncodecFeatureExtractor,
)

from .modeling import (
                          SimbaMusicCache,
                          SimbaMusicForCausalLM,
                          SimbaMusicModel,
                          force_fast_path,
                          force_slow_path,
                          kernel_report,
)
from .modeling.audio_codec import AudioCodec
from .modeling.conditional_generation import SimbaMusicForConditionalGeneration
from .modeling.configuration_pitch_codec import PitchCodecConfig
from .modeling.configuration_simba_music import SimbaMusicConfig, SimbaMusicForConditionalGenerationConfig
from .modeling.pitch_codec import PitchCodecModel
from .modeling.processing import SimbaMusicProcessor
from .modeling.sampling import TextToMusicOutput
from .modeling.streaming import AudioIteratorStreamer, CallbackAudioStreamer
from .shipped import demo_model_path

__version__ = "0.1.0"

AutoConfig.register(SimbaMusicConfig.model_type, SimbaMusicConfig, exist_ok=True)
AutoModel.register(SimbaMusicConfig, SimbaMusicModel, exist_ok=True)
AutoModelForCausalLM.register(SimbaMusicConfig, SimbaMusicForCausalLM, exist_ok=True)

AutoConfig.register(SimbaMusicForConditionalGenerationConfig.model_type, SimbaMusicForConditionalGenerationConfig,
                    exist_ok=True)
AutoModel.register(SimbaMusicForConditionalGenerationConfig, SimbaMusicForConditionalGeneration, exist_ok=True)
AutoModelForTextToWaveform.register(SimbaMusicForConditionalGenerationConfig, SimbaMusicForConditionalGeneration,
                                    exist_ok=True)
AutoFeatureExtractor.register(SimbaMusicForConditionalGenerationConfig, EncodecFeatureExtractor, exist_ok=True)
AutoProcessor.register(SimbaMusicForConditionalGenerationConfig, SimbaMusicProcessor, exist_ok=True)

AutoConfig.register(PitchCodecConfig.model_type, PitchCodecConfig, exist_ok=True)
AutoModel.register(PitchCodecConfig, PitchCodecModel, exist_ok=True)

from . import pipelines  # noqa: E402, F401  (imported for its side effect: registers the "text-to-music" task)

__all__ = ["AudioCodec", "AudioIteratorStreamer", "CallbackAudioStreamer", "PitchCodecConfig", "PitchCodecModel",
           "SimbaMusicCache", "SimbaMusicConfig",
           "SimbaMusicForCausalLM", "SimbaMusicForConditionalGeneration", "SimbaMusicForConditionalGenerationConfig",
           "SimbaMusicModel", "SimbaMusicProcessor", "TextToMusicOutput", "demo_model_path", "force_fast_path",
           "force_slow_path",
           "kernel_report"]
