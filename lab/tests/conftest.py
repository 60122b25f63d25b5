"""The lab's tests share the library's per-test seed and thread fixtures."""

import os

# Set before anything imports huggingface_hub (it reads HF_HUB_OFFLINE once). Tests compare runs number for number, so
# the thread count must not follow the machine's load (tests/modeling/test_threads.py turns the fitting on there).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SIMBA_MUSIC_FIT_THREADS", "0")

from simba_music.testing_fixtures import _seed_and_threads, one_thread  # noqa: E402, F401
