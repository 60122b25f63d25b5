"""The work behind `simba-music preprocess`, `train` and `transfer-vocabulary` (options: `simba_music_cli.training`)."""

from __future__ import annotations

import argparse
import json

from simba_music_cli.parsing import dataclass_from_arguments


def run_train(args: argparse.Namespace) -> int:
    from .train import TrainArguments, train

    summary = train(dataclass_from_arguments(TrainArguments, args))
    print(json.dumps({"steps": summary["steps"], "final": summary["history"][-1] if summary["history"] else None,
                      "model_dir": summary["model_dir"]}))
    return 0


def run_preprocess(args: argparse.Namespace) -> int:
    from .preprocess import PreprocessArguments, run

    print(json.dumps(run(dataclass_from_arguments(PreprocessArguments, args)), indent=1))
    return 0


def run_transfer_vocabulary(args: argparse.Namespace) -> int:
    from .vocabulary_transfer import VocabularyTransferArguments, run

    print(json.dumps(run(dataclass_from_arguments(VocabularyTransferArguments, args)), indent=1))
    return 0


__all__ = ["run_preprocess", "run_train", "run_transfer_vocabulary"]
