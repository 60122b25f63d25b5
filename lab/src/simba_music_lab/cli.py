"""`simba-music-lab`: the lab's commands (corpus, codec, evaluate, classifier, estimators)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from simba_music_cli.parsing import ArgumentParser, show_defaults

    from .codec.cli import add_subcommands as add_codec_commands
    from .corpus.cli import add_subcommands as add_corpus_commands
    from .evaluation.cli import add_subcommands as add_evaluation_commands

    parser = ArgumentParser(prog="simba-music-lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_corpus_commands(commands)
    add_codec_commands(commands)
    add_evaluation_commands(commands)
    show_defaults(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    from simba_music_cli import run_parsed

    parser = build_parser()
    return run_parsed(parser, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
