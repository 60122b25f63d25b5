"""`simba-music-lab evaluate`, `classifier train` and `estimators check`: argparse built from the dataclasses of
`arguments.py`."""

from __future__ import annotations

import argparse
import json
import sys

from simba_music_cli.parsing import add_dataclass_arguments, dataclass_from_arguments

from .arguments import ClassifierTrainArguments, EstimatorCheckArguments, EvaluateArguments, function_keywords


def _run_evaluate(args: argparse.Namespace) -> int:
    from .harness import evaluate

    arguments = dataclass_from_arguments(EvaluateArguments, args)
    keywords = function_keywords(arguments)
    result = evaluate(**keywords)
    headline = {"validation": result["validation"], "adherence": result["adherence"],
                "adherence_by_set": result["adherence_by_set"],
                "distance": result["distance"], "real_time_factor": result["speed"]["real_time_factor"]}
    print(json.dumps(headline, indent=1))
    print(f"wrote {arguments.output_dir}/evaluation.json", file=sys.stderr)
    return 0


def _run_classifier_train(args: argparse.Namespace) -> int:
    from .instrument_training import train_instrument_classifier

    metrics = train_instrument_classifier(**function_keywords(dataclass_from_arguments(ClassifierTrainArguments, args)))
    test = {key: value for key, value in metrics["test"].items() if key != "confusion"}
    print(json.dumps({**{key: value for key, value in metrics.items() if key != "test"}, "test": test}, indent=1))
    return 0


def _run_estimators_check(args: argparse.Namespace) -> int:
    from simba_music.io_utils import atomic_path

    from .estimator_check import check_estimators

    keywords = function_keywords(dataclass_from_arguments(EstimatorCheckArguments, args))
    output = keywords.pop("output")
    report = check_estimators(**keywords)
    if output:
        with atomic_path(output) as temporary:
            temporary.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({key: report[key] for key in ("split", "clips", "key", "tempo")}, indent=1))
    return 0


def add_subcommands(subparsers) -> None:
    """Register `evaluate`, `classifier train` and `estimators check` on the top-level `simba-music` subparsers."""
    evaluate = subparsers.add_parser("evaluate", help="offline evaluation of a saved model -> JSON and a plot")
    add_dataclass_arguments(evaluate, EvaluateArguments, positional=("model_dir",), options={
        "prompts": {"help": "a shipped set: templates (the 32 demo prompts, the default), freeform (35 hand-written "
                            "prompts), keys (24 chorale prompts, every key once, six tempi) or all (the three, "
                            "scored per set); or a JSONL file: caption and optional instrument, key, mode, "
                            "tempo_bpm, tempo_band"},
    })
    evaluate.set_defaults(func=_run_evaluate)

    classifier = subparsers.add_parser("classifier", help="the evaluation's instrument classifier")
    classifier_commands = classifier.add_subparsers(dest="classifier_command", required=True)
    train = classifier_commands.add_parser("train", help="train the evaluation's instrument classifier on corpus "
                                                         "renders")
    add_dataclass_arguments(train, ClassifierTrainArguments, positional=("manifest",))
    train.set_defaults(func=_run_classifier_train)

    estimators = subparsers.add_parser("estimators", help="the evaluation's key and tempo estimators")
    estimator_commands = estimators.add_subparsers(dest="estimators_command", required=True)
    check = estimator_commands.add_parser("check", help="key and tempo estimator accuracy on real clips")
    add_dataclass_arguments(check, EstimatorCheckArguments, positional=("manifest",))
    check.set_defaults(func=_run_estimators_check)
