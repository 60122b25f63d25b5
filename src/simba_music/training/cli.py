"""`simba-music train` (and `preprocess`): argparse subcommands built from the argument dataclasses."""

from __future__ import annotations

import argparse
import json

from simba_music_cli.parsing import add_dataclass_arguments, dataclass_from_arguments


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


def _run_transfer_vocabulary(args: argparse.Namespace) -> int:
    from .vocabulary_transfer import VocabularyTransferArguments, run

    print(json.dumps(run(dataclass_from_arguments(VocabularyTransferArguments, args)), indent=1))
    return 0


def add_subcommands(subparsers) -> None:
    from .preprocess import PreprocessArguments
    from .train import TrainArguments
    from .vocabulary_transfer import VocabularyTransferArguments

    preprocess = subparsers.add_parser("preprocess", help="audio manifest -> codec tokens (a datasets folder)")
    add_dataclass_arguments(preprocess, PreprocessArguments)
    preprocess.set_defaults(func=_run_preprocess)

    train = subparsers.add_parser("train", help="train or fine-tune the decoder with Accelerate "
                                                "(works under `accelerate launch`)")
    add_dataclass_arguments(train, TrainArguments)
    train.set_defaults(func=_run_train)

    transfer = subparsers.add_parser("transfer-vocabulary", help="carry a trained decoder over to a new codec's "
                                     "codes (a warm start for `train --init-from`)")
    add_dataclass_arguments(transfer, VocabularyTransferArguments)
    transfer.set_defaults(func=_run_transfer_vocabulary)
