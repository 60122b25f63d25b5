"""pytest fixtures shared by the library's and the lab's test suites (imported by both conftest.py files)."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts from seed 0 and leaves the thread count as it found it: a test that pins 1 thread must not
    change the float32 summation order of the tests after it."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    """A generation step of the tiny composites is a few dozen small ops: one thread is ~5x faster than two on a
    shared machine, and the generation tests run hundreds of steps (`_seed_and_threads` restores the count)."""
    torch.set_num_threads(1)


__all__ = ["_seed_and_threads", "one_thread"]
