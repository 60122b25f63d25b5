"""Configuration of the pitch-keeping codec (`PitchCodecModel`).

The codec keeps pitch by construction: its encoder is a fixed long-window log-STFT (2048 samples at 16 kHz: 7.8 Hz
bins, so semitones are told apart from about 130 Hz up, and partials pin down lower notes) quantized by residual
k-means codebooks fitted on transposed renders; its decoder refines the dequantized log-magnitudes with a ConvNeXt
stack (a residual correction, zero at initialisation) and turns them into audio with a peak-locked phase vocoder,
whose phases are integrated from each partial's own frequency, never chosen per frame, so nothing in it can lay a
comb at the frame rate over the output (`phase_vocoder.py`).
"""

from __future__ import annotations

from transformers import PretrainedConfig


class PitchCodecConfig(PretrainedConfig):
    r"""
    Args:
        sampling_rate: audio rate in Hz.
        hop_length: samples per frame (the frame rate is `sampling_rate / hop_length`).
        analysis_n_fft: window and FFT size of the encoder's log-magnitude STFT (Hann, centred frames).
        log_floor: the encoder's features are `log(|STFT| + log_floor)`.
        num_codebooks: residual codebooks; codebook `k` quantizes what codebooks `0..k-1` left.
        codebook_size: entries per codebook.
        decoder_hidden_size: width of the ConvNeXt decoder.
        decoder_num_layers: ConvNeXt blocks.
        decoder_kernel_size: depthwise (and input) convolution width, odd.
        decoder_intermediate_size: inner width of each block's MLP.
        layer_scale_init: initial per-channel scale of each block's residual branch.
        layer_norm_eps: epsilon of the LayerNorms.
        max_log_magnitude: the refined log-magnitudes are clamped to at most this before synthesis.
    """

    model_type = "pitch_codec"

    sampling_rate: int = 16000
    hop_length: int = 320
    analysis_n_fft: int = 2048
    log_floor: float = 1e-2
    num_codebooks: int = 2
    codebook_size: int = 1024
    decoder_hidden_size: int = 256
    decoder_num_layers: int = 6
    decoder_kernel_size: int = 7
    decoder_intermediate_size: int | None = None
    layer_scale_init: float = 0.1
    layer_norm_eps: float = 1e-6
    max_log_magnitude: float = 6.0
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        if self.decoder_intermediate_size is None:
            self.decoder_intermediate_size = 3 * self.decoder_hidden_size
        self._check()
        super().__post_init__(**kwargs)

    def _check(self) -> None:
        positive = ("sampling_rate", "hop_length", "analysis_n_fft", "num_codebooks", "codebook_size",
                    "decoder_hidden_size", "decoder_num_layers", "decoder_kernel_size", "decoder_intermediate_size")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if self.decoder_kernel_size % 2 == 0:
            raise ValueError(f"decoder_kernel_size: must be odd, got {self.decoder_kernel_size}")
        if self.analysis_n_fft < 2 * self.hop_length or self.analysis_n_fft % 2:
            raise ValueError(f"analysis_n_fft: must be even and at least twice hop_length ({self.hop_length}), "
                             f"got {self.analysis_n_fft}")
        if not self.log_floor > 0:
            raise ValueError(f"log_floor: must be > 0, got {self.log_floor}")

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length

    @property
    def feature_size(self) -> int:
        """Width of the encoder's features (STFT bins)."""
        return self.analysis_n_fft // 2 + 1

    @property
    def decoder_reach_frames(self) -> int:
        """Frames on each side that one refined frame depends on: the input convolution and every depthwise
        convolution reach `kernel // 2` frames."""
        return (self.decoder_kernel_size // 2) * (self.decoder_num_layers + 1)


__all__ = ["PitchCodecConfig"]
