"""The command line's help: fast, every option explained with its default, defaults from the saved model."""

import argparse
import subprocess
import sys
import time

import pytest
import torch

from simba_music.cli import build_parser, main, physical_cores
from simba_music_cli import COMMANDS


def commands(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield " ".join(path + (name,)), command
                yield from commands(command, path + (name,))


def test_overview_answers_fast_without_importing_torch():
    code = ("import sys, time; start = time.perf_counter()\nfrom simba_music_cli import main\ntry:\n main(['--help'])\n"
            "except SystemExit:\n pass\nprint('TIME', time.perf_counter() - start, 'torch' in sys.modules, "
            "'transformers' in sys.modules)")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - start
    seconds, torch_loaded, transformers_loaded = result.stdout.split("TIME")[1].split()
    assert "generate" in result.stdout and "demo" in result.stdout
    assert (torch_loaded, transformers_loaded) == ("False", "False")
    assert float(seconds) < 1.0 and wall < 3.0  # interpreter start included in `wall`; measured 0.2 s idle


def test_the_overview_lists_exactly_the_commands():
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(COMMANDS) == set(top.choices)


# Every leaf command of the tree (a command with subcommands has no options of its own to explain).
LEAVES = sorted(name for name, command in commands(build_parser())
                if not any(isinstance(a, argparse._SubParsersAction) for a in command._actions))


def test_the_tree_has_the_commands_users_know():
    assert set(LEAVES) == {"generate", "demo", "preprocess", "train", "transfer-vocabulary", "convert"}


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
    assert f"fewer threads can be faster (default: {physical_cores()})" in text
    assert "(default: out.wav)" in text and "(default: 0)" in text


def test_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "piano", "--threads", "0"])
    assert "--threads must be >= 1, got 0" in capsys.readouterr().err


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
