"""Live stream benchmark (issue 33): the shipped demo model playing without pacing, printed as JSON.

    python benchmarks/bench_live.py [--minutes 10] [--threads 2] [--smoke] [--no-progress]

Measures, in one run of `--minutes` of audio (issue targets in brackets):
- real-time factor: wall time / audio time, codec decoding included          [<= 0.5 over 10 minutes, 2 threads]
- CPU seconds (user + system, all threads) per audio second: the cost, less sensitive to other processes' load
- the codec's share of that time
- time per frame over the first minute after a second prompt joins and over the last minute (thirds of shorter runs),
  in wall and in CPU time
                                                                             [last/first within 5 %]
- resident memory (psutil) after 1 minute of audio and at the end, and whether every cache tensor kept its size
                                                                             [end within 5 % of 1 minute, at 30 min]
- a prompt joining after 30 s: the priming prefill's time; the longest chunk
- underruns a player would hear at real-time pacing (simulated from the measured chunk times, 2 s lead)  [none]
`--smoke` plays one second in half-second chunks (every figure present, none meaningful). Ratios within one run only:
on a shared machine the absolute times follow the other processes' load (reported as the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import psutil
import torch
from transformers import AutoModelForTextToWaveform, AutoProcessor

import simba_music
from simba_music.live import LiveStream

FIRST_PROMPT = "Flute performs a lively folk song in G major; 6/8, 104 BPM."
JOINING_PROMPT = "Church organ plays a moderate baroque chorale in A minor; 4/4, 80 BPM."
LEAD_SECONDS = 2.0


def state_shapes(stream: LiveStream) -> list[tuple]:
    tensors = [value for state in stream.cache.states.values() for value in vars(state).values()
               if isinstance(value, torch.Tensor)]
    return [tuple(tensor.shape) for tensor in tensors + [stream.window.ring]]


def simulated_underruns(chunk_walls: list[float], chunk_seconds: float, lead: float) -> int:
    """A player starts with the first chunk; each later chunk is written when ready but not more than `lead`
    seconds ahead (what `simba-music live` does); an underrun is a chunk that arrives after the player needed it."""
    underruns, playback_start = 0, chunk_walls[0]
    written_at = playback_start
    for index, wall in enumerate(chunk_walls[1:], start=1):
        audio_start = index * chunk_seconds
        ready = written_at + wall
        if ready > playback_start + audio_start:
            underruns += 1
            playback_start = ready - audio_start  # the player resumes with this chunk
        written_at = max(ready, playback_start + audio_start - lead)
    return underruns


def mean(values: list[float]) -> float:
    return sum(values) / max(len(values), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of audio to play")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--chunk-seconds", type=float, default=1.0, help="audio per decoded chunk")
    parser.add_argument("--smoke", action="store_true", help="one second: checks that it runs")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    args = parser.parse_args()
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    seconds = 60.0 * args.minutes
    if args.smoke:
        seconds, args.chunk_seconds = 1.0, min(args.chunk_seconds, 0.5)
    path = simba_music.demo_model_path()
    model = AutoModelForTextToWaveform.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    stream = LiveStream(model, processor, FIRST_PROMPT, seed=0, chunk_seconds=args.chunk_seconds)

    codec_seconds = [0.0]

    def timed(function):
        def timed_function(*args):
            start = time.perf_counter()
            audio = function(*args)
            codec_seconds[0] += time.perf_counter() - start
            return audio
        return timed_function

    model.codec.decode = timed(model.codec.decode)  # a codec decoded in overlapping windows
    incremental = stream.chunker.incremental  # a codec decoded frame by frame, carrying its state
    if incremental is not None:
        incremental.push, incremental.finish = timed(incremental.push), timed(incremental.finish)
    process = psutil.Process()
    chunk_walls, chunk_cpus, chunk_audio, played = [], [], [], 0.0
    rss_after_minute = shapes_after_minute = join_seconds = None
    join_chunk = 0
    join_at = min(30.0, seconds / 4)  # before the 1-minute mark: both memory readings have the same rows
    started, cpu_started = time.perf_counter(), sum(process.cpu_times()[:2])
    with tqdm(total=round(seconds), unit="s audio", disable=args.no_progress) as bar:
        while played < seconds:
            if join_seconds is None and played >= join_at:
                join_start = time.perf_counter()
                stream.add_prompt(JOINING_PROMPT, 0.5)
                stream.step()  # applies the change: the joining row's prefill
                join_seconds = time.perf_counter() - join_start
                join_chunk = len(chunk_walls)  # the first window of times per frame starts here: equal rows
            chunk_start, chunk_cpu_start = time.perf_counter(), sum(process.cpu_times()[:2])
            chunk = next(stream)
            chunk_walls.append(time.perf_counter() - chunk_start)
            chunk_cpus.append(sum(process.cpu_times()[:2]) - chunk_cpu_start)
            chunk_audio.append(chunk.shape[-1] / model.config.sampling_rate)
            played += chunk_audio[-1]
            bar.update(chunk_audio[-1])
            # After the join (in a --smoke run the join comes after the first chunk, at the half-way mark too).
            if rss_after_minute is None and join_seconds is not None and played >= min(60.0, seconds / 2):
                rss_after_minute, shapes_after_minute = process.memory_info().rss, state_shapes(stream)
    wall, cpu = time.perf_counter() - started, sum(process.cpu_times()[:2]) - cpu_started
    if rss_after_minute is None:  # chunks as long as the whole run: one reading
        rss_after_minute, shapes_after_minute = process.memory_info().rss, state_shapes(stream)

    window = min(60.0, seconds / 3)
    frames = [audio * model.config.frame_rate for audio in chunk_audio]
    per_frame = [wall / count for wall, count in zip(chunk_walls, frames, strict=True)]
    cpu_per_frame = [cpu / count for cpu, count in zip(chunk_cpus, frames, strict=True)]
    chunks_per_window = max(1, round(window / args.chunk_seconds))
    # The first window after the join (the same rows as the last), or the run's first for runs too short for both.
    start = join_chunk if len(chunk_walls) - join_chunk >= 2 * chunks_per_window else 0
    first, last = per_frame[start:start + chunks_per_window], per_frame[-chunks_per_window:]
    cpu_first = cpu_per_frame[start:start + chunks_per_window]
    cpu_last = cpu_per_frame[-chunks_per_window:]
    rss_end = process.memory_info().rss
    report = {
        "model": "simba-music-demo", "threads": args.threads, "device": "cpu", "audio_seconds": round(played, 1),
        "chunk_seconds": args.chunk_seconds, "wall_seconds": round(wall, 1),
        "real_time_factor": round(wall / played, 3),
        # What the stream costs whatever the machine's other load: CPU seconds (all threads) per second of audio.
        "cpu_seconds_per_audio_second": round(cpu / played, 3),
        "codec_share_of_wall": round(codec_seconds[0] / wall, 3),
        "ms_per_frame_first_window": round(1000 * mean(first), 2),
        "ms_per_frame_last_window": round(1000 * mean(last), 2), "window_seconds": window,
        "last_over_first": round(mean(last) / mean(first), 3),
        # The same in CPU time, which other processes' load moves much less than wall time.
        "cpu_ms_per_frame_first_window": round(1000 * mean(cpu_first), 2),
        "cpu_ms_per_frame_last_window": round(1000 * mean(cpu_last), 2),
        "cpu_last_over_first": round(mean(cpu_last) / mean(cpu_first), 3),
        "rss_mb_after_1_minute": round(rss_after_minute / 2**20, 1), "rss_mb_end": round(rss_end / 2**20, 1),
        "rss_end_over_1_minute": round(rss_end / rss_after_minute, 4),
        "state_shapes_constant": state_shapes(stream) == shapes_after_minute,
        "join_prefill_seconds": None if join_seconds is None else round(join_seconds, 3),
        "longest_chunk_seconds": round(max(chunk_walls), 3),
        "simulated_underruns_at_real_time": simulated_underruns(chunk_walls, args.chunk_seconds, LEAD_SECONDS),
        "load_average_1min": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
