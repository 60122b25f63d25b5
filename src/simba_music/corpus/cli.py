"""``simba-music corpus build``: argparse wiring for the corpus builder."""

from __future__ import annotations

import argparse
import json

from simba_music.corpus.sources import COLLECTION_LICENSES


def _run_build(args: argparse.Namespace) -> int:
    from simba_music.corpus.builder import CorpusConfig, build_corpus

    config = CorpusConfig(
        output_dir=args.output_dir,
        collections=tuple(args.collections),
        soundfont=args.soundfont,
        sample_rate=args.sample_rate,
        clip_seconds=args.clip_seconds,
        max_clips_per_render=args.max_clips_per_render,
        instruments_per_work=args.instruments_per_work,
        max_works=args.max_works,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        workers=args.workers,
        progress=not args.no_progress,
        audio_format=args.audio_format,
    )
    summary = build_corpus(config)
    print(json.dumps({key: value for key, value in summary.items() if key != "config"}, indent=2))
    return 0 if summary["clips"] > 0 else 1


def _run_recaption(args: argparse.Namespace) -> int:
    from simba_music.corpus.builder import recaption_manifest

    print(f"{recaption_manifest(args.manifest)} captions changed")
    return 0


def add_subcommands(subparsers) -> None:
    """Register ``corpus build`` and ``corpus recaption`` on the top-level ``simba-music`` subparsers."""
    corpus = subparsers.add_parser("corpus", help="build the offline captioned music corpus")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True)
    build = corpus_commands.add_parser(
        "build",
        help="render music21 scores with fluidsynth into captioned fixed-length clips and a manifest.jsonl",
    )
    build.add_argument("output_dir", help="folder for audio/, manifest.jsonl and summary.json")
    build.add_argument(
        "--collections", nargs="+", default=["bach-chorales"], choices=sorted(COLLECTION_LICENSES),
        help="music21 corpus collections to render (default: bach-chorales)",
    )  # fmt: skip
    build.add_argument("--soundfont", default="fluid", help="'fluid' (FluidR3_GM), 'timgm6mb' (small, CI) or a .sf2 path")
    build.add_argument("--sample-rate", type=int, default=16000)
    build.add_argument("--clip-seconds", type=float, default=10.0)
    build.add_argument("--max-clips-per-render", type=int, default=6)
    build.add_argument("--instruments-per-work", type=int, default=3)
    build.add_argument("--max-works", type=int, default=None, help="first N works of each collection (tiny CI builds)")
    build.add_argument("--validation-fraction", type=float, default=0.05)
    build.add_argument("--test-fraction", type=float, default=0.05)
    build.add_argument("--workers", type=int, default=1, help="parallel render processes")
    build.add_argument("--audio-format", choices=["flac", "wav"], default="flac")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.set_defaults(func=_run_build)
    recaption = corpus_commands.add_parser("recaption", help="rewrite a manifest's captions from its metadata")
    recaption.add_argument("manifest")
    recaption.set_defaults(func=_run_recaption)


def run_standalone(register, argv: list[str] | None = None) -> int:
    """``python -m`` entry point for a module's subcommands, until they are wired into ``simba-music``."""
    parser = argparse.ArgumentParser(prog="simba-music")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    return run_standalone(add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
