"""The command line's help: fast, every option explained with one default, defaults from the saved model; usage
errors name the subcommand, its flag and a close match."""

import argparse
import subprocess
import sys

import pytest
import torch

from simba_music_cli import COMMANDS, build_parser, main
from simba_music_cli.generate import physical_cores


def commands(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield " ".join(path + (name,)), command
                yield from commands(command, path + (name,))


def answer_without_torch(argv):
    """Runs `simba-music ARGV` in a fresh interpreter: (stdout + stderr, exit code, seconds in main, torch loaded,
    transformers loaded)."""
    code = ("import sys, time; start = time.perf_counter()\nfrom simba_music_cli import main\ncode = 0\ntry:\n"
            f" main({list(argv)!r})\nexcept SystemExit as exit:\n code = exit.code\n"
            "print('TIME', time.perf_counter() - start, 'torch' in sys.modules, 'transformers' in sys.modules, code)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    seconds, torch_loaded, transformers_loaded, exit_code = result.stdout.split("TIME")[1].split()
    return (result.stdout.split("TIME")[0] + result.stderr, int(exit_code), float(seconds),
            torch_loaded == "True", transformers_loaded == "True")


@pytest.mark.parametrize("argv", [["--help"], ["generate", "--help"], ["demo", "--help"], ["generate", "x", "--bogus"],
                                  ["generate", "x", "--guidance", "500"], ["generate"], ["--version"],
                                  ["generate", "x", "--key", "C lydian"],
                                  ["train", "--help"], ["preprocess", "--help"], ["transfer-vocabulary", "--help"],
                                  ["convert", "--help"], ["train", "--dataset", "d", "--output-dir", "o", "--lr", "1"],
                                  ["preprocess"], ["live", "--help"], ["live", "x", "--bogus"]])
def test_help_and_usage_errors_answer_without_importing_torch(argv):
    """Timing lives in benchmarks/bench_cli.py; here: nothing heavy is imported to answer."""
    text, code, _, torch_loaded, transformers_loaded = answer_without_torch(argv)
    assert (torch_loaded, transformers_loaded) == (False, False), text
    assert code == (0 if argv[-1] in ("--help", "--version") else 2), text


def test_a_mistyped_flag_gets_the_subcommands_usage_and_a_close_match():
    text, code, *_ = answer_without_torch(["generate", "piano", "--guidanse", "3"])
    assert code == 2
    assert "usage: simba-music generate" in text
    assert "unrecognized arguments: --guidanse 3; did you mean --guidance?" in text


def test_values_are_checked_with_the_cli_flag_and_the_library_bound():
    from simba_music.modeling.values import MAX_GUIDANCE_SCALE

    text, code, *_ = answer_without_torch(["generate", "piano", "--guidance", "500"])
    assert code == 2 and "usage: simba-music generate" in text
    assert f"argument --guidance: must be a finite number >= 0 and <= {MAX_GUIDANCE_SCALE:g}" in text
    text, code, *_ = answer_without_torch(["generate", "piano", "--key", "H major"])
    assert code == 2 and "argument --key: expected '<tonic> major' or '<tonic> minor'" in text
    text, code, *_ = answer_without_torch(["generate", "piano", "--key-strength", "-1"])
    assert code == 2 and "argument --key-strength: must be in [0, 50] (0 turns key steering off)" in text
    text, code, *_ = answer_without_torch(["generate", "piano", "--tempo", "500"])
    assert code == 2 and "argument --tempo: must be a tempo in [30, 300] beats per minute, got 500.0" in text
    text, code, *_ = answer_without_torch(["generate", "piano", "--tempo-strength", "51"])
    assert code == 2 and "argument --tempo-strength: must be in [0, 50] (0 turns tempo steering off)" in text
    text, code, *_ = answer_without_torch(["demo", "--port", "70000"])
    assert code == 2 and "argument --port: must be an int in [0, 65535], got '70000'" in text


def test_version():
    text, code, *_ = answer_without_torch(["--version"])
    assert code == 0 and text.strip() == "simba-music 0.1.0"


def test_each_default_is_shown_once():
    for name, command in commands(build_parser()):
        text = command.format_help()
        assert "(default: None)" not in text, name
        for line in " ".join(text.split()).split("--"):
            assert line.count("default:") <= 1, (name, line)


def test_the_overview_lists_exactly_the_commands():
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(COMMANDS) == set(top.choices)


# Every leaf command of the tree (a command with subcommands has no options of its own to explain).
LEAVES = sorted(name for name, command in commands(build_parser())
                if not any(isinstance(a, argparse._SubParsersAction) for a in command._actions))


def test_the_tree_has_the_commands_users_know():
    assert set(LEAVES) == {"generate", "demo", "live", "preprocess", "train", "transfer-vocabulary", "convert"}


@pytest.mark.parametrize("name", LEAVES)
def test_every_option_has_help_and_shows_its_default(name):
    command = dict(commands(build_parser()))[name]
    text = "".join(command.format_help().split())  # no whitespace: help lines wrap anywhere, even in a default
    for action in command._actions:
        if action.dest == "help":
            continue
        label = action.option_strings[0] if action.option_strings else action.dest
        assert action.help, f"{name} {label}: no help text"
        if not action.option_strings:
            continue
        if action.default not in (None, False, argparse.SUPPRESS) and not isinstance(action.default, bool):
            assert "".join(f"(default: {action.default})".split()) in text or "default" in action.help, \
                f"{name} {action.option_strings[0]}: default not shown"


def test_generate_help_says_defaults_come_from_the_saved_generation_config(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the model's saved generation config; the shipped demo's is 5.0" in text
    assert "the shipped demo's is 10.0" in text
    assert f"(default: this machine's physical cores, {physical_cores()})" in text
    assert "(default: out.wav)" in text and "(default: 0)" in text


def test_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "piano", "--threads", "0"])
    assert "argument --threads: must be an int >= 1, got '0'" in capsys.readouterr().err


def test_quiet_silences_every_bar_and_threads_is_applied(tmp_path, capfd):
    before = torch.get_num_threads()
    try:
        main(["generate", "Solo flute plays a lively folk song in G major; 6/8, 100 BPM.", "--duration", "0.2",
              "--output", str(tmp_path / "a.wav"), "--quiet", "--threads", "1"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err and "%|" not in err
    assert "wrote" in err and (tmp_path / "a.wav").is_file()


@pytest.mark.parametrize("module, name, argv", [
    ("simba_music.training.preprocess", "PreprocessArguments",
     ["--manifest", "m.jsonl", "--output-dir", "out", "--codec", "c", "--batch-size", "3", "--no-progress"]),
    ("simba_music.training.train", "TrainArguments",
     ["--dataset", "d", "--output-dir", "run", "--learning-rate", "3e-4", "--resume"]),
    ("simba_music.conversion.cli", "ConvertArguments", ["--checkpoint", "x.ckpt", "--output-dir", "o"]),
])
def test_help_is_written_once_and_transformers_hfargumentparser_reads_the_same_dataclasses(module, name, argv):
    """Field metadata is transformers' convention: its HfArgumentParser parses our argument dataclasses to the same
    values, and shows the same help, as the command line does."""
    import importlib

    from transformers import HfArgumentParser

    from simba_music_cli.parsing import add_dataclass_arguments, dataclass_from_arguments

    cls = getattr(importlib.import_module(module), name)
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, cls)
    ours = dataclass_from_arguments(cls, parser.parse_args(argv))
    (theirs,) = HfArgumentParser(cls).parse_args_into_dataclasses(argv)
    assert ours == theirs
    helps = {action.dest: action.help for action in parser._actions}
    for action in HfArgumentParser(cls)._actions:
        if action.help and action.dest in helps and not action.dest.startswith("no_"):
            assert action.help == helps[action.dest], action.dest


@pytest.mark.parametrize("option", ["quiet", "progress"])
def test_quiet_and_no_progress_silence_the_loaders_bars(option):
    """`train --no-progress` showed transformers' "Loading weights" bars; `--quiet` always hid them."""
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    from simba_music_cli import apply_runtime_options

    try:
        apply_runtime_options(argparse.Namespace(**{option: option == "quiet"}))
        assert not transformers_logging.is_progress_bar_enabled() and are_progress_bars_disabled()
    finally:
        transformers_logging.enable_progress_bar()
        transformers_logging.set_verbosity_warning()
        enable_progress_bars()
    apply_runtime_options(argparse.Namespace(progress=True))  # the default: bars stay on
    assert transformers_logging.is_progress_bar_enabled() and not are_progress_bars_disabled()
