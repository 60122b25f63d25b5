"""``simba-music codec train`` and ``simba-music codec report``: argparse wiring."""

from __future__ import annotations

import argparse
import json
import logging


def _run_train(args: argparse.Namespace) -> int:
    from simba_music.codec.train import CodecTrainConfig, train_codec

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = CodecTrainConfig(
        manifest=args.manifest,
        run_dir=args.run_dir,
        sample_rate=args.sample_rate,
        num_codebooks=args.num_codebooks,
        codebook_size=args.codebook_size,
        num_filters=args.num_filters,
        hidden_size=args.hidden_size,
        segment_seconds=args.segment_seconds,
        batch_size=args.batch_size,
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        quantizer_dropout=args.quantizer_dropout,
        first_codebook_only=args.first_codebook_only,
        quantizer_warmup_steps=args.quantizer_warmup_steps,
        ema_decay=args.ema_decay,
        checkpoint_minutes=args.checkpoint_minutes,
        checkpoint_steps=args.checkpoint_steps,
        seed=args.seed,
        threads=args.threads,
        resume=args.resume,
        progress=not args.no_progress,
    )
    state = train_codec(config)
    print(json.dumps({"step": state["step"], "validation": state.get("validation"), "last_train": state.get("last_train")}))
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from simba_music.codec.report import codec_report

    report = codec_report(args.model_dir, args.manifest, args.output_dir, split=args.split, max_clips=args.max_clips)
    print(json.dumps(report["mean"], indent=2))
    return 0


def add_subcommands(subparsers) -> None:
    """Register ``codec train`` and ``codec report`` on the top-level ``simba-music`` subparsers."""
    codec = subparsers.add_parser("codec", help="train and evaluate a small EnCodec-format codec")
    commands = codec.add_subparsers(dest="codec_command", required=True)

    train = commands.add_parser("train", help="train an EncodecModel on a manifest; exports RUN_DIR/model")
    train.add_argument("manifest", help="manifest.jsonl (audio, caption, split)")
    train.add_argument("run_dir", help="checkpoints/, model/ (save_pretrained) and train_log.jsonl go here")
    train.add_argument("--sample-rate", type=int, default=16000)
    train.add_argument("--num-codebooks", type=int, default=4)
    train.add_argument("--codebook-size", type=int, default=1024)
    train.add_argument("--num-filters", type=int, default=16)
    train.add_argument("--hidden-size", type=int, default=128)
    train.add_argument("--segment-seconds", type=float, default=1.0)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--max-steps", type=int, default=10000)
    train.add_argument("--learning-rate", type=float, default=3e-4)
    train.add_argument("--quantizer-dropout", type=float, default=0.5)
    train.add_argument("--first-codebook-only", type=float, default=0.2, help="share of steps decoding codebook 1 alone")
    train.add_argument("--quantizer-warmup-steps", type=int, default=200, help="autoencoder steps before k-means")
    train.add_argument("--ema-decay", type=float, default=0.99)
    train.add_argument("--checkpoint-minutes", type=float, default=10.0)
    train.add_argument("--checkpoint-steps", type=int, default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (1 for a background run)")
    train.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(func=_run_train)

    report = commands.add_parser(
        "report", help="mel distance, SI-SDR, chroma, note F1 vs mu-law and telephone baselines"
    )
    report.add_argument("model_dir", help="a save_pretrained EncodecModel folder")
    report.add_argument("manifest")
    report.add_argument("output_dir", help="report.json, report.md and spectrograms.png")
    report.add_argument("--split", default="test", choices=["train", "validation", "test"])
    report.add_argument("--max-clips", type=int, default=40)
    report.set_defaults(func=_run_report)


def main(argv: list[str] | None = None) -> int:
    from simba_music.corpus.cli import run_standalone

    return run_standalone(add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
