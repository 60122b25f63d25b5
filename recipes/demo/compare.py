"""Train several decoder variants side by side with `simba-music train`, with equal data, steps and optimiser.

    python recipes/demo/compare.py --dataset TOKENS --text-encoder TEXT_ENCODER --work DIR \
        --budget-seconds 330 [--configs prefix_simba cross_transformer cross_simba]

All runs start together on one machine (one GPU, or the CPU). A short probe run first measures each variant's seconds
per step; the step count of the real runs is then the largest that lets the slowest variant finish in the budget, so
that every variant gets the same number of steps. Each run's `metrics.jsonl` holds the training loss, the validation
cross-entropy and the training seconds (evaluation excluded) at each step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def launch(name: str, args, output: Path, max_steps: int, eval_every: int, warmup: int,
           save_every: int | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "simba_music.cli", "train", "--config", str(HERE / "configs" / f"{name}.json"),
               "--dataset", args.dataset, "--text-encoder", args.text_encoder, "--output-dir", str(output),
               "--max-steps", str(max_steps), "--batch-size", str(args.batch_size),
               "--learning-rate", str(args.learning_rate), "--min-learning-rate", str(args.learning_rate / 50),
               "--warmup-steps", str(warmup), "--eval-every", str(eval_every), "--save-every", str(save_every or max_steps),
               "--keep-checkpoints", "1", "--text-max-length", str(args.text_max_length),
               "--mixed-precision", args.mixed_precision, "--seed", str(args.seed),
               "--no-progress"]
    log = open(output.with_suffix(".log"), "w")
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads_per_run)}
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)


def wait_all(processes: dict, deadline: float) -> dict:
    codes = {}
    while len(codes) < len(processes):
        for name, process in processes.items():
            if name not in codes and process.poll() is not None:
                codes[name] = process.returncode
        if time.time() > deadline:
            for name, process in processes.items():
                if name not in codes:
                    process.terminate()
                    codes[name] = "terminated at the deadline"
        time.sleep(1)
    return codes


def seconds_per_step(metrics: Path, skip: int) -> float:
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    first, last = records[skip - 1], records[-1]
    return (last["train_seconds"] - first["train_seconds"]) / (last["step"] - first["step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--text-encoder", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--configs", nargs="+", default=["prefix_simba", "cross_transformer", "cross_simba"])
    parser.add_argument("--budget-seconds", type=float, default=330)
    parser.add_argument("--deadline-seconds", type=float, default=None,
                        help="hard wall-clock limit for everything here: runs still going then are stopped (their "
                             "newest checkpoint remains)")
    parser.add_argument("--probe-steps", type=int, default=30)
    parser.add_argument("--max-steps", type=int, default=6000)
    parser.add_argument("--min-steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=6e-4)
    parser.add_argument("--mixed-precision", default="bf16")
    parser.add_argument("--threads-per-run", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-max-length", type=int, default=36)  # the corpus captions have 24-35 MiniLM tokens
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report = {"settings": vars(args)}
    deadline = time.time() + (args.deadline_seconds or float("inf"))

    def probe_all() -> dict:
        probes = {name: launch(name, args, work / f"probe-{name}", args.probe_steps, 10**6, 10)
                  for name in args.configs}
        return wait_all(probes, min(deadline, time.time() + args.budget_seconds))

    started = time.time()
    report["probe_exit"] = probe_all()
    if args.mixed_precision != "no" and any(code != 0 for code in report["probe_exit"].values()):
        # One precision for every variant: if any fails in mixed precision, all train in float32.
        report["failed_mixed_precision_probe"], args.mixed_precision = report["probe_exit"], "no"
        report["probe_exit"] = probe_all()
    report["probe_wall_seconds"] = time.time() - started
    speeds = {name: seconds_per_step(work / f"probe-{name}" / "metrics.jsonl", args.probe_steps // 3)
              for name in args.configs if report["probe_exit"][name] == 0}
    report["probe_seconds_per_step"] = speeds
    if not speeds:
        raise SystemExit(f"every probe failed: {report['probe_exit']} (see {work}/probe-*.log)")
    # Evaluation and start-up come out of the budget too: keep a fifth of it for them.
    steps = int(0.8 * args.budget_seconds / max(speeds.values()))
    steps = max(args.min_steps, min(args.max_steps, steps // 50 * 50 if steps > 100 else steps))
    report["steps"] = steps
    print(json.dumps(report), flush=True)

    started = time.time()
    runs = {name: launch(name, args, work / name, steps, max(10, steps // 25), max(10, steps // 20),
                         save_every=max(10, steps // 4)) for name in speeds}
    report["exit"] = wait_all(runs, min(deadline, started + 1.6 * args.budget_seconds))
    report["wall_seconds"] = time.time() - started
    (work / "comparison.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
