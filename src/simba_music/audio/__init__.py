"""One home for the package's audio helpers: resampling, STFT/mel/chroma features, loudness, reading and writing
files. Corpus building, codec training, evaluation and the CLI all use these."""

from .chroma import chroma, pitch_class_weights
from .files import WavFileStreamer, load_audio, write_spectrogram, write_wav
from .loudness import is_silent, normalize_loudness, rms
from .resample import conform, resample
from .spectrogram import log_mel, mel_filterbank, mel_spectrogram, stft_magnitude

__all__ = ["WavFileStreamer", "chroma", "conform", "is_silent", "load_audio", "log_mel", "mel_filterbank",
           "mel_spectrogram", "normalize_loudness", "pitch_class_weights", "resample", "rms", "stft_magnitude",
           "write_spectrogram", "write_wav"]
