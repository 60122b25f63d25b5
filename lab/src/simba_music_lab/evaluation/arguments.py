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
    model_dir: str  # saved text-to-music model folder (with its processor)
    prompts: str = str(DEMO_PROMPTS)  # help in cli.py: the path is long
    # the command's own default: evaluate() itself writes no files unless given an output_dir
    output_dir: str = "evaluation"  # folder for evaluation.json and the plot
    overwrite: bool = False  # write into --output-dir even if it holds files evaluate did not write
    dataset: str | None = None  # `simba-music preprocess` output for cross-entropy
    dataset_split: str | None = None  # default: validation, else test
    batch_size: int = 8  # rows per cross-entropy batch
    max_examples: int | None = None  # cross-entropy on at most this many rows (default: all)
    reference_manifest: str | None = None  # corpus manifest.jsonl of real clips
    reference_split: str = "test"  # split of --reference-manifest to compare with
    reference_clips: int = 64  # real clips drawn from that split
    codec_round_trip: bool = True  # also score the reference clips after encoding and decoding with the codec
    duration: float = 10.0  # seconds per prompt
    seed: int = 0  # prompt i uses seed + i
    guidance: float | None = None  # default: the model's generation config
    # default: the shipped classifier trained through the model's codec if that codec is shipped, else clean renders
    instrument_classifier: str | None = None
    save_audio: bool = False  # also write the generated WAVs
    device: str | None = None  # torch device, e.g. cuda (default: cuda if available, else cpu)
    quiet: bool = False  # no progress bars


@dataclasses.dataclass
class ClassifierTrainArguments:
    manifest: str  # corpus manifest.jsonl with instrument and split
    output_dir: str  # folder to save the classifier in (required: nothing is written into the package unless named)
    per_class: int = 150  # train clips per instrument
    hidden_size: int = 64  # 0: multinomial logistic regression
    epochs: int = 400  # full-batch training epochs
    seed: int = 0  # seed of the clip choice and the initial weights
    test_split: str = "test"  # manifest split the accuracy is reported on
    max_test_clips: int | None = None  # at most this many test clips (default: all)
    through_codec: str | None = None  # a codec folder: train and test on clips after a round trip through it
    codec_codebooks: int = 1  # codebooks used in that round trip
    quiet: bool = False  # no progress bars
    overwrite: bool = False  # replace --output-dir even if it holds files the trainer did not write


@dataclasses.dataclass
class EstimatorCheckArguments:
    manifest: str  # corpus manifest.jsonl with key and tempo_bpm
    split: str = "test"  # manifest split to check on
    clips: int = 50  # clips drawn from that split
    seed: int = 0  # seed of the clip choice
    output: str | None = None  # also write the full report (with per-clip rows) to this JSON file
    quiet: bool = False  # no progress bars


def function_keywords(arguments) -> dict:
    """The dataclass as keywords of the function it configures: `quiet` becomes `progress`."""
    values = dataclasses.asdict(arguments)
    values["progress"] = not values.pop("quiet")
    return values


__all__ = ["ClassifierTrainArguments", "EstimatorCheckArguments", "EvaluateArguments", "function_keywords"]
