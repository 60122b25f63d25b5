"""`simba-music train` (and `preprocess`): argparse subcommands built from the argument dataclasses."""

from __future__ import annotations

import argparse
import json

from ..cli_arguments import add_dataclass_arguments, dataclass_from_arguments


def _run_train(args: argparse.Namespace) -> int:
    from .train import TrainArguments, train

    summary = train(dataclass_from_arguments(TrainArguments, args))
    print(json.dumps({"steps": summary["steps"], "final": summary["history"][-1] if summary["history"] else None,
                      "model_dir": summary["model_dir"]}))
    return 0


def _run_preprocess(args: argparse.Namespace) -> int:
    from .preprocess import PreprocessArguments, run

    print(json.dumps(run(dataclass_from_arguments(PreprocessArguments, args)), indent=1))
    return 0


def add_subcommands(subparsers) -> None:
    from .preprocess import PreprocessArguments
    from .train import TrainArguments

    preprocess = subparsers.add_parser("preprocess", help="audio manifest -> codec tokens (a datasets folder)")
    add_dataclass_arguments(preprocess, PreprocessArguments)
    preprocess.set_defaults(func=_run_preprocess)

    train = subparsers.add_parser("train", help="train or fine-tune the decoder with Accelerate "
                                                "(works under `accelerate launch`)")
    add_dataclass_arguments(train, TrainArguments)
    train.set_defaults(func=_run_train)
