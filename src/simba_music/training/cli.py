"""`simba-music train` (and `preprocess`): argparse subcommands built from the argument dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing


def _add_dataclass_arguments(parser: argparse.ArgumentParser, cls) -> None:
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        flag = "--" + spec.name.replace("_", "-")
        hint = hints[spec.name]
        required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        default = None if required else spec.default
        if hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
            continue
        base = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
        parser.add_argument(flag, type=base if base in (int, float, str) else str, default=default, required=required,
                            dest=spec.name)


def _run_train(args: argparse.Namespace) -> int:
    from .train import TrainArguments, train

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainArguments)}
    summary = train(TrainArguments(**values))
    print(json.dumps({"steps": summary["steps"], "final": summary["history"][-1] if summary["history"] else None,
                      "model_dir": summary["model_dir"]}))
    return 0


def _run_preprocess(args: argparse.Namespace) -> int:
    from .preprocess import PreprocessArguments, run

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(PreprocessArguments)}
    print(json.dumps(run(PreprocessArguments(**values)), indent=1))
    return 0


def add_subcommands(subparsers) -> None:
    from .preprocess import PreprocessArguments
    from .train import TrainArguments

    preprocess = subparsers.add_parser("preprocess", help="audio manifest -> codec tokens (a datasets folder)")
    _add_dataclass_arguments(preprocess, PreprocessArguments)
    preprocess.set_defaults(func=_run_preprocess)

    train = subparsers.add_parser("train", help="train or fine-tune the decoder with Accelerate "
                                                "(works under `accelerate launch`)")
    _add_dataclass_arguments(train, TrainArguments)
    train.set_defaults(func=_run_train)
