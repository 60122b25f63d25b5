"""The evaluation commands' dataclasses: every field is a keyword of the function it configures, with its default."""

import dataclasses
import inspect

import pytest

from simba_music_cli.parsing import dataclass_from_arguments
from simba_music_lab.cli import build_parser
from simba_music_lab.evaluation.arguments import (
    ClassifierTrainArguments,
    EstimatorCheckArguments,
    EvaluateArguments,
    function_keywords,
)
from simba_music_lab.evaluation.estimator_check import check_estimators
from simba_music_lab.evaluation.harness import evaluate
from simba_music_lab.evaluation.instrument_training import train_instrument_classifier

# Fields the command owns: evaluate() writes no files unless given an output_dir, the command always does;
# `estimators check --output` is the command's own file.
PAIRS = [(EvaluateArguments, evaluate, ("output_dir",)), (ClassifierTrainArguments, train_instrument_classifier, ()),
         (EstimatorCheckArguments, check_estimators, ("output",))]


@pytest.mark.parametrize(("cls", "function", "own_default"), PAIRS, ids=["evaluate", "classifier", "estimators"])
def test_fields_are_the_functions_keywords_with_its_defaults(cls, function, own_default):
    parameters = inspect.signature(function).parameters
    for spec in dataclasses.fields(cls):
        if spec.name in own_default:
            continue
        name, default = ("progress", not spec.default) if spec.name == "quiet" else (spec.name, spec.default)
        assert name in parameters, f"{cls.__name__}.{spec.name} is no keyword of {function.__name__}"
        expected = parameters[name].default
        if default is dataclasses.MISSING:  # a required field: the function requires it too
            assert expected is inspect.Parameter.empty, f"{cls.__name__}.{spec.name} has no default"
            continue
        assert default == expected or str(default) == str(expected), \
            f"{cls.__name__}.{spec.name}: default {default!r}, {function.__name__} says {expected!r}"


def test_the_commands_parse_into_the_dataclasses_defaults():
    parser = build_parser()
    args = parser.parse_args(["estimators", "check", "m.jsonl", "--quiet"])
    assert function_keywords(dataclass_from_arguments(EstimatorCheckArguments, args)) == {
        "manifest": "m.jsonl", "split": "test", "clips": 50, "seed": 0, "output": None, "progress": False}
    args = parser.parse_args(["classifier", "train", "m.jsonl", "--output-dir", "out"])
    assert (args.per_class, args.epochs, args.hidden_size, args.quiet, args.overwrite) == (150, 400, 64, False, False)
    args = parser.parse_args(["evaluate", "model", "--no-codec-round-trip"])
    assert (args.output_dir, args.codec_round_trip, args.reference_clips) == ("evaluation", False, 64)
    assert parser.parse_args(["evaluate", "model", "--prompts", "freeform"]).prompts == "freeform"
