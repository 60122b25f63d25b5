"""The settings of a codec training run (`simba-music-lab codec train`): one dataclass, checked before anything runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simba_music_lab.codec.formats import CODEC_FORMATS


@dataclass
class CodecTrainConfig:
    manifest: str
    output_dir: str
    codec_format: str = "encodec"
    sample_rate: int = 16000
    num_codebooks: int | None = field(default=None, metadata={
        "help": "None: 4 for encodec, 1 for wavtokenizer (its only choice)"})
    codebook_size: int = 1024
    num_filters: int = 16
    hidden_size: int = 128
    num_lstm_layers: int = 2
    upsampling_ratios: tuple[int, ...] = (8, 5, 4, 2)
    decoder_hidden_size: int = field(default=256, metadata={
        "help": "wavtokenizer only: the Vocos decoder's width, ConvNeXt size and depth"})
    decoder_intermediate_size: int = 768
    decoder_num_layers: int = 8
    segment_seconds: float = 1.0
    batch_size: int = 8
    max_steps: int = 10000
    learning_rate: float = 3e-4
    warmup_steps: int = 100
    # Cosine decay of the learning rate; like the GAN stage it may be set or moved at a resume (the factor is a pure
    # function of the step, so no scheduler state changes meaning).
    decay_start_step: int | None = field(default=None, metadata={
        "help": "first step of the decay (None: constant after warm-up)"})
    decay_steps: int = field(default=2000, metadata={"help": "steps from decay_start_step to the final learning rate"})
    final_learning_rate_fraction: float = field(default=0.1, metadata={
        "help": "the learning rate after the decay, as a fraction of learning_rate"})
    grad_clip: float = 1.0
    mel_weight: float = 1.0
    time_weight: float = 1.0
    stft_weight: float | None = field(default=None, metadata={
        "help": "None: 0 for encodec (as the shipped codec), 1 for wavtokenizer"})
    commitment_weight: float = 1.0
    quantizer_dropout: float = 0.5
    first_codebook_only: float = 0.2
    ema_decay: float = 0.99
    dead_code_fraction: float = 0.25
    kmeans_batches: int = 16
    quantizer_warmup_steps: int = 200
    # The GAN stage (codec/adversarial.py); switching it on for a resumed run is allowed, see train_codec.
    adversarial_start_step: int | None = field(default=None, metadata={
        "help": "first step with a discriminator and its losses (None: never)"})
    adversarial_weight: float = field(default=1.0, metadata={
        "help": "least-squares adversarial loss weight, from adversarial_start_step on"})
    feature_matching_weight: float = field(default=2.0, metadata={
        "help": "discriminator feature-matching L1 weight, from adversarial_start_step on"})
    discriminator_learning_rate: float = field(default=2e-4, metadata={
        "help": "the discriminator's AdamW learning rate (constant)"})
    # Train the decoder alone: the encoder and the codebooks stay as the checkpoint has them, so every clip keeps its
    # codes, and tokens a decoder language model was trained on stay valid. Only for a resumed run; may be set at any
    # resume.
    freeze_encoder: bool = False
    checkpoint_minutes: float = 10.0
    checkpoint_steps: int | None = None
    keep_checkpoints: int = 3
    log_every: int = 10
    validation_items: int = 8
    eval_note_f1: bool = field(default=True, metadata={
        "help": "basic-pitch note F1 of the held-out crops at each checkpoint (when installed)"})
    seed: int = 0
    threads: int | None = None
    resume: bool = False
    progress: bool = True
    overwrite: bool = field(default=False, metadata={
        "help": "write into an output_dir that holds files codec training did not write"})

    def __post_init__(self) -> None:
        if self.num_codebooks is None:
            self.num_codebooks = 1 if self.codec_format == "wavtokenizer" else 4
        if self.stft_weight is None:
            self.stft_weight = 1.0 if self.codec_format == "wavtokenizer" else 0.0

    def check(self) -> None:
        if self.codec_format not in CODEC_FORMATS:
            raise ValueError(f"codec_format must be one of {list(CODEC_FORMATS)}, got {self.codec_format!r}")
        if self.codec_format == "wavtokenizer" and self.num_codebooks != 1:
            raise ValueError(f"num_codebooks must be 1 for codec_format='wavtokenizer', got {self.num_codebooks}")
        for name in ("batch_size", "max_steps", "num_codebooks", "num_filters", "kmeans_batches", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.decay_start_step is not None and self.decay_start_step < 0:
            raise ValueError(f"decay_start_step must be >= 0 (or None: no decay), got {self.decay_start_step}")
        if self.decay_steps < 1:
            raise ValueError(f"decay_steps must be >= 1, got {self.decay_steps}")
        if not 0 <= self.final_learning_rate_fraction <= 1:
            raise ValueError(f"final_learning_rate_fraction must be in [0, 1], got {self.final_learning_rate_fraction}")
        if self.quantizer_warmup_steps < 0:
            raise ValueError(f"quantizer_warmup_steps must be >= 0, got {self.quantizer_warmup_steps}")
        for name in ("quantizer_dropout", "first_codebook_only"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.adversarial_start_step is not None and self.adversarial_start_step < 0:
            raise ValueError(f"adversarial_start_step must be >= 0 (or None: no adversarial stage), "
                             f"got {self.adversarial_start_step}")
        for name in ("adversarial_weight", "feature_matching_weight"):
            if not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if self.freeze_encoder and not self.resume:
            raise ValueError("freeze_encoder: only for a resumed run (--resume), whose encoder and codebooks are "
                             "trained; a fresh codec has no codes to keep")
        if not 0 < self.discriminator_learning_rate < math.inf:
            raise ValueError(f"discriminator_learning_rate must be > 0, got {self.discriminator_learning_rate}")
        hop = math.prod(self.upsampling_ratios)
        if round(self.segment_seconds * self.sample_rate) % hop:
            raise ValueError(f"segment_seconds * sample_rate must be a multiple of the hop {hop}")
