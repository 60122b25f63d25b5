"""Shared timing helper for the benchmark scripts (run as `python benchmarks/<script>.py`)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import time


def timed(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of `fn()` in seconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _burn(stop, parent: int) -> None:
    # Also stop when the benchmark dies without cleaning up (killed): an orphaned burner would skew every later run.
    while not stop.is_set() and os.getppid() == parent:
        sum(i * i for i in range(10_000))


@contextlib.contextmanager
def cpu_burner(enabled: bool = True):
    """One CPU-burning process beside the measurement while the block runs (the shared-machine case)."""
    if not enabled:
        yield
        return
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    burner = context.Process(target=_burn, args=(stop, os.getpid()), daemon=True)
    burner.start()
    time.sleep(0.5)  # let it take its core before anything is timed
    try:
        yield
    finally:
        stop.set()
        burner.join()
