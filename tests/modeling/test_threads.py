"""The thread count fitted to the machine (modeling/threads.py): the load measurement sees another process's CPU use
and not its own, the count drops to the cores left free and is restored afterwards, and the switch turns it off."""

import multiprocessing
import sys
import time

import pytest
import torch

from simba_music.modeling import threads
from simba_music.modeling.threads import MachineLoad, fitting_thread_count, threads_fitted_to_machine

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


class FixedLoad:
    def __init__(self, other_cores: float, cores: int = 2):
        self.cpus, self.other_cores = set(range(cores)), other_cores

    def update(self) -> float:
        return self.other_cores


@pytest.mark.parametrize(("other_cores", "requested", "expected"),
                         [(0.0, 2, 2), (0.4, 2, 2), (1.0, 2, 1), (1.9, 2, 1), (2.0, 2, 1), (0.0, 1, 1),
                          (1.0, 4, 1), (0.2, 8, 2)])
def test_count_is_the_cores_left_free(other_cores, requested, expected):
    assert fitting_thread_count(requested, FixedLoad(other_cores)) == expected


def _burn(stop):
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def test_load_is_busy_time_minus_own_time(monkeypatch):
    """Scripted /proc readings (busy ticks of the allowed cores, all their ticks, this process's ticks)."""
    readings = iter([(0, 0, 0), (150, 200, 50), (350, 400, 240), (350, 400, 240), (0, 0, 0)])
    monkeypatch.setattr(threads, "_read_ticks", lambda cpus: next(readings))
    monkeypatch.setattr(threads, "_allowed_cpus", lambda: {0, 1})
    load = MachineLoad(sample_seconds=0.0)
    assert load.update() == pytest.approx(1.0)  # 150 busy - 50 own over 100 ticks per core: one other core
    assert load.update() == pytest.approx(0.1)  # 200 busy, 190 of them ours
    assert load.update() == pytest.approx(0.1)  # no ticks elapsed: the last value stands
    load = MachineLoad(sample_seconds=60.0)
    assert load.update() == 0.0  # too short a window: no decision yet


@linux_only
def test_load_sees_a_cpu_burning_process():
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    burner = context.Process(target=_burn, args=(stop,), daemon=True)
    burner.start()
    try:
        time.sleep(1.0)  # its start-up
        load = MachineLoad(sample_seconds=0.0)
        time.sleep(0.8)
        other = load.update()
    finally:
        stop.set()
        burner.join()
    assert other > 0.6, other  # one burning process is about one core (more if the machine is busy anyway)


@linux_only
def test_context_lowers_and_restores_the_count(monkeypatch):
    monkeypatch.setenv("SIMBA_MUSIC_FIT_THREADS", "1")
    monkeypatch.setattr(threads, "_machine_load", FixedLoad(1.0, cores=2))
    torch.set_num_threads(2)
    with threads_fitted_to_machine(torch.device("cpu")):
        inside = torch.get_num_threads()
    assert (inside, torch.get_num_threads()) == (1, 2)
    monkeypatch.setenv("SIMBA_MUSIC_FIT_THREADS", "0")
    with threads_fitted_to_machine(torch.device("cpu")):
        assert torch.get_num_threads() == 2


def test_decoder_forward_and_scan_backward_run_fitted(monkeypatch):
    """The decoder's forward and the scans' hand-written backwards run under the fitted count."""
    from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM

    seen = []
    real = torch.set_num_threads
    monkeypatch.setenv("SIMBA_MUSIC_FIT_THREADS", "1")
    monkeypatch.setattr(threads, "_machine_load", FixedLoad(1.0, cores=2))
    monkeypatch.setattr(threads.torch, "set_num_threads", lambda n: (seen.append(n), real(n)))
    real(2)
    config = SimbaMusicConfig(hidden_size=32, num_hidden_layers=2, state_size=8, head_dim=16, text_hidden_size=24,
                              vocab_size=65, special_token_id=64, chunk_size=8, block_pattern=["mamba2", "mamba"])
    model = SimbaMusicForCausalLM(config)
    ids = torch.randint(0, 64, (1, 12))
    loss = model(ids, labels=ids).loss
    assert seen == [1, 2]  # forward: lowered, restored
    loss.backward()
    assert seen == [1, 2] * 5  # each layer's Mamba1 and SSD backward
