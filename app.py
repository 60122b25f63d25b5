"""Hugging Face Space entry point: the simba-music demo page with the shipped demo model.

On a Space (sdk: gradio) this file is run as is; locally, `python app.py` or `simba-music demo` serve the same page.
"""

import os

from simba_music.app.ui import launch

if __name__ == "__main__":
    # A Space routes traffic to 0.0.0.0:7860; locally the page stays on this machine unless told otherwise.
    launch(model=os.environ.get("SIMBA_MUSIC_MODEL"), host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
           port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
