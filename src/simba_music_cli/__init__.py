"""The `simba-music` command line.

Every `--help` and every usage error answers without importing torch or transformers (the `simba_music` package
imports both to register its models, which takes seconds): `generate` and `demo` are defined here in plain Python,
and the training and conversion commands, whose options live beside their code, are imported only when named.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .parsing import ArgumentParser, show_defaults

DESCRIPTION = ("State-space (SiMBA/Mamba) text-to-music: generate, play live, serve the demo page, preprocess, train, "
               "convert. "
               "The corpus, codec training and evaluation commands are simba-music-lab's.")
# name -> one-line help; tests check that these are exactly the full parser's commands.
COMMANDS = {
    "generate": "text -> WAV with a saved model (default: the shipped demo)",
    "demo": "serve the demo web page (gradio; needs the [demo] extra)",
    "live": "endless music, steered from stdin while it plays",
    "preprocess": "audio manifest -> codec tokens (a datasets folder)",
    "train": "train or fine-tune the decoder with Accelerate (resumable)",
    "transfer-vocabulary": "carry a trained decoder over to a new codec's codes (a warm start)",
    "convert": "an SSM-TTM Lightning checkpoint -> a simba-music model folder",
}
LIGHT_COMMANDS = ("generate", "demo")  # their options are defined in this package


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("simba-music")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(command: str | None = None) -> ArgumentParser:
    """The full parser. With `command` one of LIGHT_COMMANDS, the other commands are listed but not built, so that
    nothing heavy is imported; `None` builds every command."""
    from .generate import add_demo, add_generate

    parser = ArgumentParser(prog="simba-music", description=DESCRIPTION,
                            epilog="`simba-music COMMAND --help` shows a command's options and defaults.")
    parser.add_argument("--version", action="version", version=f"simba-music {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_generate(commands, COMMANDS["generate"])
    add_demo(commands, COMMANDS["demo"])
    if command in LIGHT_COMMANDS or command not in COMMANDS:
        for name in COMMANDS:
            if name not in LIGHT_COMMANDS:
                commands.add_parser(name, help=COMMANDS[name])
    else:
        from simba_music.cli import add_library_commands

        add_library_commands(commands, COMMANDS)
    show_defaults(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    return run_parsed(parser, parser.parse_args(argv))


def run_parsed(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run a parsed command. A bad value exits 2 with the command's usage and one line; a broken or missing input
    file exits 1 with one line. Nothing was written in either case."""
    from .parsing import chosen_command

    command = chosen_command(parser, args)
    try:
        apply_runtime_options(args)
        return command_function(args)(args)
    except (ValueError, TypeError) as error:
        command.error(str(error))
    except (FloatingPointError, FileNotFoundError) as error:  # broken weights, a missing input file
        print(f"{command.prog}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # disk full, read-only, no permission, busy: one line (io_utils.output_errors)
        from simba_music.io_utils import OutputError

        if not isinstance(error, OutputError):
            raise
        print(f"{command.prog}: error: {error.strerror}", file=sys.stderr)
        return 1


def command_function(args: argparse.Namespace):
    """The function that runs the parsed command: `func`, or `run` as "module:function", imported only now."""
    if hasattr(args, "func"):
        return args.func
    module, _, function = args.run.partition(":")
    return getattr(importlib.import_module(module), function)


def apply_runtime_options(args: argparse.Namespace) -> None:
    # --quiet silences every bar, the loaders' too (transformers' weight loading, the Hub's downloads).
    if getattr(args, "quiet", False):
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as transformers_logging

        disable_progress_bars()
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    if getattr(args, "threads", None) is not None:
        import torch

        torch.set_num_threads(args.threads)


__all__ = ["COMMANDS", "build_parser", "main", "run_parsed", "version"]


if __name__ == "__main__":
    sys.exit(main())
