#!/usr/bin/env python
"""Convert an SSM-TTM (Lee et al., 2025) Lightning checkpoint into a simba-music model directory.

    python conversion_scripts/convert_ssm_ttm_checkpoint.py --checkpoint PATH.ckpt --config PATH/config.json \\
        --output-dir DIR [--decoder-only] [--text-encoder NAME_OR_DIR] [--codec NAME_OR_DIR] [--push-to-hub REPO_ID]

The same as `simba-music convert`; `--help` lists every option and the safety guarantees (the checkpoint is read with
torch.load(weights_only=True)). The options live in simba_music/conversion/cli.py.
"""

import sys

from simba_music.conversion.cli import main

if __name__ == "__main__":
    sys.exit(main())
