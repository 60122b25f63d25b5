"""How many intra-op threads the PyTorch path uses: the caller's count, capped by the cores other processes leave free.

Why: the PyTorch SSM path is many small ops. Between two ops an OpenMP worker spins, waiting for the next one. When
another process holds a core, our main thread and our own spinning worker share the one core left, and every op waits
for a time slice. Measured on 2 cores with one CPU-burning process beside (medium Prefix Mamba, 2 threads): a decode
step took 517 ms instead of 31 ms with `OMP_WAIT_POLICY=PASSIVE` or with 1 thread. Matmul-heavy attention barely
notices, because it has few, large ops. The wait policy is read once, when OpenMP starts, so a library cannot change
it; it can run on fewer threads while the machine is busy, which is what this module decides.

The decision reads Linux's CPU accounting (`/proc/stat` for the cores this process may use, `/proc/self/stat` for this
process), at most every `SAMPLE_SECONDS`: other processes' load = busy time of those cores - this process's own
time. Elsewhere (no `/proc`) the caller's count is kept. `SIMBA_MUSIC_FIT_THREADS=0` turns the fitting off, read at
every call.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time

import torch

SAMPLE_SECONDS = 0.25  # shortest window worth a decision: /proc/stat counts in 10 ms ticks
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (idle and iowait are not busy)


def _allowed_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def _read_ticks(cpus: set[int]) -> tuple[int, int, int] | None:
    """(busy ticks of `cpus`, all ticks of `cpus`, this process's user+system ticks), or None without /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            lines = stat.readlines()
        with open("/proc/self/stat", encoding="ascii") as own:
            fields = own.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    except OSError:
        return None
    busy = total = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        ticks = [int(value) for value in rest.split()]
        busy += sum(ticks[i] for i in _BUSY_FIELDS if i < len(ticks))
        total += sum(ticks[:8])
    own_ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5), counted from 1
    return busy, total, own_ticks


class MachineLoad:
    """Cores used by other processes, measured over the window since the previous sample."""

    def __init__(self, sample_seconds: float = SAMPLE_SECONDS):
        self.sample_seconds = sample_seconds
        self.cpus = _allowed_cpus()
        self._last = _read_ticks(self.cpus)
        self._last_time = time.monotonic()
        self.other_cores = 0.0

    def update(self) -> float:
        """Other processes' load in cores (0 .. number of allowed cores); refreshed when the window is long enough."""
        now = time.monotonic()
        if self._last is None or now - self._last_time < self.sample_seconds:
            return self.other_cores
        current = _read_ticks(self.cpus)
        if current is None:
            return self.other_cores
        busy, total, own = (new - old for new, old in zip(current, self._last, strict=True))
        if total > 0:
            ticks_per_core = total / len(self.cpus)
            self.other_cores = min(len(self.cpus), max(0.0, (busy - own) / ticks_per_core))
        self._last, self._last_time = current, now
        return self.other_cores


_machine_load: MachineLoad | None = None  # made at first use, not at import: it reads /proc


def fitting_thread_count(requested: int, load: MachineLoad | None = None) -> int:
    """`requested`, or fewer when other processes leave fewer cores free (never below 1).

    A core counts as free when other processes use less than half of it, so light background work keeps the count.
    """
    global _machine_load
    if load is None:
        if _machine_load is None:
            _machine_load = MachineLoad()
        load = _machine_load
    free_cores = len(load.cpus) - load.update()
    return max(1, min(requested, int(free_cores + 0.5)))


def fitting_enabled() -> bool:
    return os.environ.get("SIMBA_MUSIC_FIT_THREADS", "1").strip().lower() not in ("0", "false", "no", "off")


@contextlib.contextmanager
def threads_fitted_to_machine(device: torch.device):
    """Run the block with `fitting_thread_count(torch.get_num_threads())` threads on CPU; restore the count after."""
    requested = torch.get_num_threads()
    if device.type != "cpu" or requested == 1 or not fitting_enabled():
        yield
        return
    count = fitting_thread_count(requested)
    if count == requested:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(requested)


def backward_on_fitted_threads(backward):
    """Decorate an autograd Function's `backward(ctx, *grads)` to run under `threads_fitted_to_machine`."""
    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        device = next(grad.device for grad in grads if grad is not None)
        with threads_fitted_to_machine(device):
            return backward(ctx, *grads)
    return wrapper
