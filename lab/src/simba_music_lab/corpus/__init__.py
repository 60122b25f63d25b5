"""Offline captioned music corpus: music21 scores rendered with fluidsynth, split by work."""

from simba_music.training.manifest import read_manifest
from simba_music_lab.corpus.builder import CorpusConfig, build_corpus
from simba_music_lab.corpus.manifest import split_for_work, write_manifest

__all__ = ["CorpusConfig", "build_corpus", "read_manifest", "split_for_work", "write_manifest"]
