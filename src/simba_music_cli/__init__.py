"""The `simba-music` command line.

Every `--help` and every usage error answers without importing torch or transformers (the `simba_music` package
imports both to register its models, which takes seconds): every command's options are defined here in plain Python,
and the library's code that runs a command is imported only when it runs.
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


# command -> (its argument dataclass, the function that runs it, add_dataclass_arguments keywords)
COMMAND_ARGUMENTS = {
    "preprocess": ("simba_music_cli.training.PreprocessArguments", "simba_music.training.cli:run_preprocess", {}),
    "train": ("simba_music_cli.training.TrainArguments", "simba_music.training.cli:run_train", {}),
    "transfer-vocabulary": ("simba_music_cli.training.VocabularyTransferArguments",
                            "simba_music.training.cli:run_transfer_vocabulary", {}),
    "convert": ("simba_music_cli.conversion.ConvertArguments", "simba_music.conversion.cli:run",
                {"aliases": {"output_dir": ("--output",)}}),
}


def description_of(name: str) -> dict:
    """add_parser keywords for a command's longer description, where it has one."""
    if name == "convert":
        from .conversion import __doc__ as text

        return {"description": text, "formatter_class": argparse.RawDescriptionHelpFormatter}
    if name == "train":
        return {"description": "Train or fine-tune the decoder with Accelerate (resumable; works under "
                               "`accelerate launch -m simba_music.cli train`)."}
    return {"description": COMMANDS[name]}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("simba-music")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> ArgumentParser:
    """The whole command tree; every command's options are plain Python in this package, so nothing heavy is
    imported to build it."""
    from .generate import add_demo, add_generate
    from .parsing import add_dataclass_arguments

    parser = ArgumentParser(prog="simba-music", description=DESCRIPTION,
                            epilog="`simba-music COMMAND --help` shows a command's options and defaults.")
    parser.add_argument("--version", action="version", version=f"simba-music {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        if name == "generate":
            add_generate(commands, COMMANDS[name])
        elif name == "demo":
            add_demo(commands, COMMANDS[name])
        elif name == "live":
            from .live import add_live_subcommand

            add_live_subcommand(commands, COMMANDS[name])
        else:
            arguments, run, extra = COMMAND_ARGUMENTS[name]
            module, _, cls = arguments.rpartition(".")
            parser_of_command = commands.add_parser(name, help=COMMANDS[name], **description_of(name))
            add_dataclass_arguments(parser_of_command, getattr(importlib.import_module(module), cls), **extra)
            parser_of_command.set_defaults(run=run)
    show_defaults(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
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
    # --quiet (generate, demo, live) and --no-progress (preprocess, train, transfer-vocabulary) silence every bar, the
    # loaders' too (transformers' "Loading weights", the Hub's downloads); --quiet also their warnings.
    quiet, no_progress = getattr(args, "quiet", False), getattr(args, "progress", True) is False
    if quiet or no_progress:
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as transformers_logging

        disable_progress_bars()
        transformers_logging.disable_progress_bar()
        if quiet:
            transformers_logging.set_verbosity_error()
    if getattr(args, "threads", None) is not None:
        import torch

        torch.set_num_threads(args.threads)


__all__ = ["COMMANDS", "build_parser", "main", "run_parsed", "version"]


if __name__ == "__main__":
    sys.exit(main())
