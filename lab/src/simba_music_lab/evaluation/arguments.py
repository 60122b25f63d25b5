"""The options of `simba-music-lab evaluate`, `classifier train` and `estimators check`, one dataclass per command.

Each field mirrors a keyword of the function the command calls (`evaluate`, `train_instrument_classifier`,
`check_estimators`) with the same default (tests/evaluation/test_arguments.py compares them; evaluate's output_dir
is the command's own), so the command line states no default by hand. `quiet` is the functions' `not progress`.
The module imports nothing heavy: the parser is built without torch."""

from __future__ import annotations

import dataclasses

from .prompts import DEMO_PROMPTS


@dataclasses.dataclass
class EvaluateArguments:
    model_dir: str = dataclasses.field(metadata={"help": "saved text-to-music model folder (with its processor)"})
    prompts: str = str(DEMO_PROMPTS)  # help in cli.py: the path is long
    # the command's own default: evaluate() itself writes no files unless given an output_dir
    output_dir: str = dataclasses.field(default="evaluation", metadata={
        "help": "folder for evaluation.json and the plot"})
    overwrite: bool = dataclasses.field(default=False, metadata={
        "help": "write into --output-dir even if it holds files evaluate did not write"})
    dataset: str | None = dataclasses.field(default=None, metadata={
        "help": "`simba-music preprocess` output for cross-entropy"})
    dataset_split: str | None = dataclasses.field(default=None, metadata={"help": "default: validation, else test"})
    batch_size: int = dataclasses.field(default=8, metadata={"help": "rows per cross-entropy batch"})
    max_examples: int | None = dataclasses.field(default=None, metadata={
        "help": "cross-entropy on at most this many rows (default: all)"})
    reference_manifest: str | None = dataclasses.field(default=None, metadata={
        "help": "corpus manifest.jsonl of real clips"})
    reference_split: str = dataclasses.field(default="test", metadata={
        "help": "split of --reference-manifest to compare with"})
    reference_clips: int = dataclasses.field(default=64, metadata={"help": "real clips drawn from that split"})
    codec_round_trip: bool = dataclasses.field(default=True, metadata={
        "help": "also score the reference clips after encoding and decoding with the codec"})
    duration: float = dataclasses.field(default=10.0, metadata={"help": "seconds per prompt"})
    seed: int = dataclasses.field(default=0, metadata={"help": "prompt i uses seed + i"})
    guidance: float | None = dataclasses.field(default=None, metadata={
        "help": "default: the model's generation config"})
    # default: the shipped classifier trained through the model's codec if that codec is shipped, else clean renders
    instrument_classifier: str | None = None
    save_audio: bool = dataclasses.field(default=False, metadata={"help": "also write the generated WAVs"})
    device: str | None = dataclasses.field(default=None, metadata={
        "help": "torch device, e.g. cuda (default: cuda if available, else cpu)"})
    quiet: bool = dataclasses.field(default=False, metadata={"help": "no progress bars"})


@dataclasses.dataclass
class ClassifierTrainArguments:
    manifest: str = dataclasses.field(metadata={"help": "corpus manifest.jsonl with instrument and split"})
    output_dir: str = dataclasses.field(metadata={
        "help": "folder to save the classifier in (required: nothing is written into the package unless named)"})
    per_class: int = dataclasses.field(default=150, metadata={"help": "train clips per instrument"})
    hidden_size: int = dataclasses.field(default=64, metadata={"help": "0: multinomial logistic regression"})
    epochs: int = dataclasses.field(default=400, metadata={"help": "full-batch training epochs"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the clip choice and the initial weights"})
    test_split: str = dataclasses.field(default="test", metadata={"help": "manifest split the accuracy is reported on"})
    max_test_clips: int | None = dataclasses.field(default=None, metadata={
        "help": "at most this many test clips (default: all)"})
    through_codec: str | None = dataclasses.field(default=None, metadata={
        "help": "a codec folder: train and test on clips after a round trip through it"})
    codec_codebooks: int = dataclasses.field(default=1, metadata={"help": "codebooks used in that round trip"})
    quiet: bool = dataclasses.field(default=False, metadata={"help": "no progress bars"})
    overwrite: bool = dataclasses.field(default=False, metadata={
        "help": "replace --output-dir even if it holds files the trainer did not write"})


@dataclasses.dataclass
class EstimatorCheckArguments:
    manifest: str = dataclasses.field(metadata={"help": "corpus manifest.jsonl with key and tempo_bpm"})
    split: str = dataclasses.field(default="test", metadata={"help": "manifest split to check on"})
    clips: int = dataclasses.field(default=50, metadata={"help": "clips drawn from that split"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the clip choice"})
    output: str | None = dataclasses.field(default=None, metadata={
        "help": "also write the full report (with per-clip rows) to this JSON file"})
    quiet: bool = dataclasses.field(default=False, metadata={"help": "no progress bars"})


def function_keywords(arguments) -> dict:
    """The dataclass as keywords of the function it configures: `quiet` becomes `progress`."""
    values = dataclasses.asdict(arguments)
    values["progress"] = not values.pop("quiet")
    return values


__all__ = ["ClassifierTrainArguments", "EstimatorCheckArguments", "EvaluateArguments", "function_keywords"]
