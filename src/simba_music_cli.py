"""Console entry point of `simba-music`.

`simba-music --help` lists the commands from this module alone, without importing torch or transformers (the
`simba_music` package imports both to register its models, which takes seconds); every other call goes to the full
parser in `simba_music.cli`, which imports only what the chosen command needs.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = ("State-space (SiMBA/Mamba) text-to-music: generate, serve the demo page, preprocess, train, convert. "
               "The corpus, codec training and evaluation commands are `simba-music-lab`'s.")
# name -> one-line help; tests check that these are exactly the full parser's commands.
COMMANDS = {
    "generate": "text -> WAV with a saved model (default: the shipped demo)",
    "demo": "serve the demo web page (gradio; needs the [demo] extra)",
    "preprocess": "audio manifest -> codec tokens (a datasets folder)",
    "train": "train or fine-tune the decoder with Accelerate (resumable)",
    "transfer-vocabulary": "carry a trained decoder over to a new codec's codes (a warm start)",
    "convert": "an SSM-TTM Lightning checkpoint -> a simba-music model folder",
}


def overview_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simba-music", description=DESCRIPTION,
                                     epilog="`simba-music COMMAND --help` shows a command's options and defaults.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in COMMANDS.items():
        commands.add_parser(name, help=text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        overview_parser().parse_args(argv)  # prints the overview (or the missing-command error) and exits
    from simba_music.cli import main as run_command

    return run_command(argv)


if __name__ == "__main__":
    sys.exit(main())
