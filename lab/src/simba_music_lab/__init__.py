"""simba-music-lab: the research lab beside the simba-music library.

It builds the offline captioned corpus (`corpus`), trains and measures codecs (`codec`), and judges text-to-music
models with independent estimators and instrument classifiers (`evaluation`). Nothing in `simba_music` imports it.
"""

__version__ = "0.1.0"
