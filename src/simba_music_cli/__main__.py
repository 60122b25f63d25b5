"""`python -m simba_music_cli`: the same as the `simba-music` console script."""

import sys

from simba_music_cli import main

sys.exit(main())
