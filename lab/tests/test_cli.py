"""`simba-music-lab`'s help: every leaf command explains its options without printing where the packages are
installed (evaluate's help once showed the default prompts file's absolute path)."""

import argparse
from pathlib import Path

import pytest

import simba_music
import simba_music_lab
from simba_music_lab.cli import build_parser


def leaves(parser, path=()):
    action = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if action is None:
        yield " ".join(path), parser
        return
    for name, command in action.choices.items():
        yield from leaves(command, path + (name,))


LEAVES = dict(leaves(build_parser()))


def test_the_lab_has_its_commands():
    assert set(LEAVES) == {"corpus build", "corpus recaption", "corpus keys", "codec train", "codec report", "evaluate",
                           "classifier train", "estimators check"}


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_help_shows_no_install_path(name):
    text = "".join(LEAVES[name].format_help().split())  # help lines wrap anywhere, even inside a path
    for package in (simba_music, simba_music_lab):
        assert str(Path(package.__file__).resolve().parent.parent) not in text, name
