"""EncodecConfig and WavTokenizerConfig presets for small codecs trained here."""

from __future__ import annotations

import math


def _hop(sample_rate: int, upsampling_ratios: tuple[int, ...]) -> int:
    """Samples per frame; the sample rate must be a whole number of frames per second of them."""
    hop = math.prod(upsampling_ratios)
    if sample_rate % hop:
        raise ValueError(f"sample_rate {sample_rate} must be a multiple of the hop {hop} (upsampling_ratios)")
    return hop


def small_encodec_config(
    sample_rate: int = 16000,
    upsampling_ratios: tuple[int, ...] = (8, 5, 4, 2),
    num_codebooks: int = 4,
    codebook_size: int = 1024,
    num_filters: int = 16,
    hidden_size: int = 128,
    num_lstm_layers: int = 2,
):
    """A mono EnCodec whose ``target_bandwidths`` select 1..num_codebooks codebooks.

    ``target_bandwidths[0]`` (the default for ``encode``) is exactly one codebook, the one the language model uses.
    """
    from transformers import EncodecConfig

    if num_codebooks < 1:
        raise ValueError(f"num_codebooks must be >= 1, got {num_codebooks}")
    if codebook_size < 2 or codebook_size & (codebook_size - 1):
        raise ValueError(f"codebook_size must be a power of two >= 2, got {codebook_size}")
    hop = _hop(sample_rate, upsampling_ratios)
    frame_rate = sample_rate // hop
    kbps_per_codebook = frame_rate * math.log2(codebook_size) / 1000
    bandwidths = [round(kbps_per_codebook * n, 6) for n in range(1, num_codebooks + 1)]
    config = EncodecConfig(
        target_bandwidths=bandwidths,
        sampling_rate=sample_rate,
        audio_channels=1,
        normalize=False,
        num_filters=num_filters,
        hidden_size=hidden_size,
        upsampling_ratios=list(upsampling_ratios),
        num_lstm_layers=num_lstm_layers,
        codebook_size=codebook_size,
    )
    if config.num_quantizers != num_codebooks:  # float rounding in transformers' formula
        raise ValueError(f"bandwidths {bandwidths} give {config.num_quantizers} quantizers, not {num_codebooks}")
    return config


def small_wavtokenizer_config(
    sample_rate: int = 16000,
    upsampling_ratios: tuple[int, ...] = (8, 5, 4, 2),
    codebook_size: int = 1024,
    num_filters: int = 16,
    hidden_size: int = 128,
    num_lstm_layers: int = 2,
    decoder_hidden_size: int = 256,
    decoder_intermediate_size: int = 768,
    decoder_num_layers: int = 8,
):
    """A mono one-codebook WavTokenizer: EnCodec's SEANet encoder + one VQ, a Vocos decoder (ConvNeXt blocks and an
    inverse STFT with n_fft = 4 x hop). The defaults are the codec trial's: 16 kHz, hop 320 (50 frames/s), n_fft
    1280, 1024 codes, decoder 256 wide x 8 blocks (7.55 M parameters)."""
    from transformers import WavTokenizerConfig

    if codebook_size < 2:
        raise ValueError(f"codebook_size must be >= 2, got {codebook_size}")
    _hop(sample_rate, upsampling_ratios)
    groups = math.gcd(32, decoder_hidden_size)  # GroupNorm groups must divide the width
    return WavTokenizerConfig(
        sampling_rate=sample_rate,
        upsampling_ratios=list(upsampling_ratios),
        num_filters=num_filters,
        hidden_size=hidden_size,
        codebook_dim=hidden_size,
        codebook_size=codebook_size,
        num_lstm_layers=num_lstm_layers,
        decoder_hidden_size=decoder_hidden_size,
        decoder_intermediate_size=decoder_intermediate_size,
        decoder_num_layers=decoder_num_layers,
        decoder_attention_num_groups=groups,
    )
