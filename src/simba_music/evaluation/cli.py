"""`simba-music evaluate`, `train-instrument-classifier` and `validate-estimators`: argparse wiring."""

from __future__ import annotations

import argparse
import json
import sys


def _run_evaluate(args: argparse.Namespace) -> int:
    from .harness import evaluate

    result = evaluate(args.model_dir, args.prompts, output_dir=args.output_dir, dataset=args.dataset,
                      dataset_split=args.dataset_split, batch_size=args.batch_size, max_examples=args.max_examples,
                      reference_manifest=args.reference_manifest, reference_split=args.reference_split,
                      reference_clips=args.reference_clips, codec_round_trip=args.codec_round_trip,
                      duration=args.duration, seed=args.seed, guidance=args.guidance,
                      instrument_classifier=args.instrument_classifier, save_audio=args.save_audio,
                      device=args.device, progress=not args.quiet, overwrite=args.overwrite)
    headline = {"validation": result["validation"], "adherence": result["adherence"],
                "distance": result["distance"], "real_time_factor": result["speed"]["real_time_factor"]}
    print(json.dumps(headline, indent=1))
    print(f"wrote {args.output_dir}/evaluation.json", file=sys.stderr)
    return 0


def _run_train_classifier(args: argparse.Namespace) -> int:
    from .instrument_training import train_instrument_classifier

    metrics = train_instrument_classifier(args.manifest, args.output_dir, per_class=args.per_class,
                                          hidden_size=args.hidden_size,
                                          epochs=args.epochs, seed=args.seed, test_split=args.test_split,
                                          max_test_clips=args.max_test_clips, progress=not args.quiet,
                                          through_codec=args.through_codec, codec_codebooks=args.codec_codebooks,
                                          overwrite=args.overwrite)
    test = {key: value for key, value in metrics["test"].items() if key != "confusion"}
    print(json.dumps({**{key: value for key, value in metrics.items() if key != "test"}, "test": test}, indent=1))
    return 0


def _run_validate_estimators(args: argparse.Namespace) -> int:
    from ..io_utils import atomic_path
    from .estimator_check import check_estimators

    report = check_estimators(args.manifest, args.split, args.clips, args.seed, progress=not args.quiet)
    if args.output:
        with atomic_path(args.output) as temporary:
            temporary.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({key: report[key] for key in ("split", "clips", "key", "tempo")}, indent=1))
    return 0


def add_subcommands(subparsers) -> None:
    from .prompts import DEMO_PROMPTS

    evaluate = subparsers.add_parser("evaluate", help="offline evaluation of a saved model -> JSON and a plot")
    evaluate.add_argument("model_dir", help="saved text-to-music model folder (with its processor)")
    evaluate.add_argument("--prompts", default=str(DEMO_PROMPTS),
                          help="JSONL: caption and optional instrument, key, tempo_bpm (default: the 32 demo prompts)")
    evaluate.add_argument("--output-dir", default="evaluation", help="folder for evaluation.json and the plot")
    evaluate.add_argument("--overwrite", action="store_true",
                          help="write into --output-dir even if it holds files evaluate did not write")
    evaluate.add_argument("--dataset", default=None, help="`simba-music preprocess` output for cross-entropy")
    evaluate.add_argument("--dataset-split", default=None, help="default: validation, else test")
    evaluate.add_argument("--batch-size", type=int, default=8, help="rows per cross-entropy batch")
    evaluate.add_argument("--max-examples", type=int, default=None,
                          help="cross-entropy on at most this many rows (default: all)")
    evaluate.add_argument("--reference-manifest", default=None, help="corpus manifest.jsonl of real clips")
    evaluate.add_argument("--reference-split", default="test", help="split of --reference-manifest to compare with")
    evaluate.add_argument("--reference-clips", type=int, default=64, help="real clips drawn from that split")
    evaluate.add_argument("--codec-round-trip", action=argparse.BooleanOptionalAction, default=True,
                          help="also score the reference clips after encoding and decoding with the codec")
    evaluate.add_argument("--duration", type=float, default=10.0, help="seconds per prompt")
    evaluate.add_argument("--seed", type=int, default=0, help="prompt i uses seed + i")
    evaluate.add_argument("--guidance", type=float, default=None, help="default: the model's generation config")
    evaluate.add_argument("--instrument-classifier", default=None, help="default: the shipped classifier")
    evaluate.add_argument("--save-audio", action="store_true", help="also write the generated WAVs")
    evaluate.add_argument("--device", default=None,
                          help="torch device, e.g. cuda (default: cuda if available, else cpu)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluate.set_defaults(func=_run_evaluate)

    train = subparsers.add_parser("train-instrument-classifier",
                                  help="train the evaluation's instrument classifier on corpus renders")
    train.add_argument("manifest", help="corpus manifest.jsonl with instrument and split")
    train.add_argument("--output-dir", required=True,
                       help="folder to save the classifier in (required: nothing is written into the installed package "
                            "unless named here)")
    train.add_argument("--per-class", type=int, default=150, help="train clips per instrument")
    train.add_argument("--hidden-size", type=int, default=64, help="0: multinomial logistic regression")
    train.add_argument("--epochs", type=int, default=400, help="full-batch training epochs")
    train.add_argument("--seed", type=int, default=0, help="seed of the clip choice and the initial weights")
    train.add_argument("--test-split", default="test", help="manifest split the accuracy is reported on")
    train.add_argument("--max-test-clips", type=int, default=None, help="at most this many test clips (default: all)")
    train.add_argument("--through-codec", default=None,
                       help="a codec folder: train and test on clips after a round trip through it")
    train.add_argument("--codec-codebooks", type=int, default=1, help="codebooks used in that round trip")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument("--overwrite", action="store_true",
                       help="replace --output-dir even if it holds files the trainer did not write")
    train.set_defaults(func=_run_train_classifier)

    check = subparsers.add_parser("validate-estimators", help="key and tempo estimator accuracy on real clips")
    check.add_argument("manifest", help="corpus manifest.jsonl with key and tempo_bpm")
    check.add_argument("--split", default="test", help="manifest split to check on")
    check.add_argument("--clips", type=int, default=50, help="clips drawn from that split")
    check.add_argument("--seed", type=int, default=0, help="seed of the clip choice")
    check.add_argument("--output", default=None, help="also write the full report (with per-clip rows) here")
    check.add_argument("--quiet", action="store_true", help="no progress bars")
    check.set_defaults(func=_run_validate_estimators)
