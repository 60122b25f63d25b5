"""``simba-music-lab codec train`` and ``simba-music-lab codec report``: argparse wiring."""

from __future__ import annotations

import argparse
import json
import logging

from simba_music_cli.parsing import add_dataclass_arguments, dataclass_from_arguments


def _run_train(args: argparse.Namespace) -> int:
    from simba_music_lab.codec.train import CodecTrainConfig, train_codec

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = dataclass_from_arguments(CodecTrainConfig, args)
    state = train_codec(config)
    print(json.dumps({"step": state["step"], "validation": state.get("validation"),
                      "last_train": state.get("last_train")}))
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from simba_music_lab.codec.report import codec_report

    report = codec_report(args.model_dir, args.manifest, args.output_dir, split=args.split, max_clips=args.max_clips,
                          overwrite=args.overwrite,
                          key_set_soundfont=None if args.key_set_soundfont == "none" else args.key_set_soundfont)
    print(json.dumps(report["mean"], indent=2))
    for name, result in report.get("key_round_trip", {}).items():
        print(name, json.dumps(result["summary"]))
    return 0


def add_subcommands(subparsers) -> None:
    """Register ``codec train`` and ``codec report`` on the top-level ``simba-music`` subparsers."""
    codec = subparsers.add_parser("codec", help="train and evaluate a small EnCodec- or WavTokenizer-format codec")
    commands = codec.add_subparsers(dest="codec_command", required=True)

    train = commands.add_parser("train", help="train an EncodecModel or WavTokenizerModel on a manifest; "
                                              "exports OUTPUT_DIR/model")
    from simba_music_lab.codec.train import CodecTrainConfig

    add_dataclass_arguments(train, CodecTrainConfig, positional=("manifest", "output_dir"), options={
        "manifest": {"help": "manifest.jsonl (audio, caption, split)"},
        "output_dir": {"help": "checkpoints/, model/ (save_pretrained) and train_log.jsonl go here"},
        "first_codebook_only": {"help": "share of steps decoding codebook 1 alone"},
        "codec_format": {"help": "encodec (RVQ) or wavtokenizer (one codebook, Vocos decoder)"},
        "stft_weight": {"help": "multi-resolution STFT-magnitude loss weight "
                                "(default: 1 for wavtokenizer, 0 for encodec)"},
        "eval_note_f1": {"help": "basic-pitch note F1 of the held-out crops at each checkpoint (eval_log.jsonl)"},
        "quantizer_warmup_steps": {"help": "autoencoder steps before k-means"},
        "threads": {"help": "torch.set_num_threads (1 for a background run)"},
        "resume": {"help": "continue from the newest complete checkpoint"},
        "adversarial_start_step": {"help": "first step that trains a discriminator (multi-period + multi-resolution "
                                           "spectrogram) and adds its losses; None: never. May be set or moved at a "
                                           "--resume, also for a run started without one"},
        "decay_start_step": {"help": "first step of a cosine learning-rate decay to final_learning_rate_fraction "
                                     "over decay_steps; None: constant. May be set or moved at a --resume"},
    })
    train.set_defaults(func=_run_train)

    report = commands.add_parser(
        "report", help="mel distance, SI-SDR, chroma, note F1, comb strength vs mu-law and telephone baselines"
    )
    report.add_argument("model_dir", help="a save_pretrained EncodecModel or WavTokenizerModel folder")
    report.add_argument("manifest", help="corpus manifest.jsonl (audio, split, work_id)")
    report.add_argument("output_dir", help="report.json, report.md and spectrograms.png")
    report.add_argument("--split", default="test", choices=["train", "validation", "test"],
                        help="manifest split of the held-out clips")
    report.add_argument("--max-clips", type=int, default=40, help="clips evaluated, spread over the works")
    report.add_argument("--key-set-soundfont", default="fluid",
                        help="render 4 Bach chorales in 16 keys with this soundfont ('fluid', 'timgm6mb' or a .sf2 "
                             "path) and report the keys the codec keeps; 'none' skips it (default: fluid)")
    report.add_argument("--overwrite", action="store_true",
                        help="write into output_dir even if it holds files the report did not write")
    report.set_defaults(func=_run_report)
