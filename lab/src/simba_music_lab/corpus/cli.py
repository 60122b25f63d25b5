"""``simba-music-lab corpus build``: argparse wiring for the corpus builder."""

from __future__ import annotations

import argparse
import json

from simba_music.captions.templates import CAPTION_STYLES
from simba_music_cli.parsing import add_dataclass_arguments, dataclass_from_arguments
from simba_music_lab.corpus.sources import COLLECTION_LICENSES


def _run_build(args: argparse.Namespace) -> int:
    from simba_music_lab.corpus.builder import CorpusConfig, build_corpus

    config = dataclass_from_arguments(CorpusConfig, args)
    summary = build_corpus(config)
    print(json.dumps({key: value for key, value in summary.items() if key != "config"}, indent=2))
    return 0 if summary["clips"] > 0 else 1


def _run_recaption(args: argparse.Namespace) -> int:
    from simba_music_lab.corpus.builder import recaption_manifest

    print(f"{recaption_manifest(args.manifest, args.caption_style, args.caption_seed)} captions changed")
    return 0


def _run_keys(args: argparse.Namespace) -> int:
    from simba_music.training.manifest import read_manifest
    from simba_music_lab.corpus.keys import key_distribution

    rows = read_manifest(args.manifest, args.split)
    print(json.dumps(key_distribution(row["key"] for row in rows if row.get("key")), indent=2))
    return 0


def add_subcommands(subparsers) -> None:
    """Register ``corpus build`` and ``corpus recaption`` on the top-level ``simba-music`` subparsers."""
    corpus = subparsers.add_parser("corpus", help="build the offline captioned music corpus")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True)
    build = corpus_commands.add_parser(
        "build",
        help="render music21 scores with fluidsynth into captioned fixed-length clips and a manifest.jsonl",
    )
    from simba_music_lab.corpus.builder import CorpusConfig

    add_dataclass_arguments(build, CorpusConfig, positional=("output_dir",), options={
        "output_dir": {"help": "folder for audio/, manifest.jsonl and summary.json"},
        "collections": {"choices": sorted(COLLECTION_LICENSES), "help": "music21 corpus collections to render"},
        "soundfont": {"help": "'fluid' (FluidR3_GM), 'timgm6mb' (small, CI) or a .sf2 path"},
        "max_works": {"help": "first N works of each collection (tiny CI builds)"},
        "workers": {"help": "parallel render processes"},
        "audio_format": {"choices": ["flac", "wav"]},
        "caption_style": {"choices": list(CAPTION_STYLES)},
    })
    build.set_defaults(func=_run_build)
    recaption = corpus_commands.add_parser("recaption", help="rewrite a manifest's captions from its metadata")
    recaption.add_argument("manifest", help="manifest.jsonl written by corpus build (rewritten in place)")
    recaption.add_argument("--caption-style", choices=CAPTION_STYLES, default=None,
                           help="templates or paraphrases (default: each row's own; templates where a row names none)")
    recaption.add_argument("--caption-seed", type=int, default=None,
                           help="paraphrase variant: another seed gives other wordings (default: each row's own, or 0)")
    recaption.set_defaults(func=_run_recaption)
    keys = corpus_commands.add_parser("keys", help="how peaked a manifest's key distribution is (JSON)")
    keys.add_argument("manifest", help="manifest.jsonl written by corpus build")
    keys.add_argument("--split", default=None, choices=["train", "validation", "test"],
                      help="one split only (default: every row)")
    keys.set_defaults(func=_run_keys)
