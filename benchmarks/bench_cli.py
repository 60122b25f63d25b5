"""Start-up of the `simba-music` command line: wall time of whole processes, printed as JSON.

    python benchmarks/bench_cli.py [--runs 5] [--smoke]

Times `--help`, `generate --help`, `demo --help`, a usage error (a mistyped flag) and `--version`, each as a fresh
process (the wall time of `subprocess.run`, output captured), against `python -c pass` (the interpreter's own start-up)
measured in the same run. The commands take turns, round by round, after one untimed round, so load from other
processes falls on all alike; each figure is the median of `--runs` rounds. Issue target: every `--help` and every
usage error under 1 s (the whole process, interpreter start-up included).

The command is the `simba-music` console script installed beside this interpreter, else the one on PATH, else this
interpreter running `simba_music_cli.main`. When PATH's `simba-music` is another file (a pyenv shim, say), `generate
--help` through it is timed too. `--smoke`: one round, no untimed round (checks that the script runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.0
COMMANDS = {
    "help": ["--help"],
    "generate_help": ["generate", "--help"],
    "demo_help": ["demo", "--help"],
    "usage_error": ["generate", "piano", "--guidanse", "3"],
    "version": ["--version"],
}


def installed_cli() -> tuple[list[str], str | None]:
    """The command that runs `simba-music`, and PATH's `simba-music` when that is a different file."""
    on_path = shutil.which("simba-music")
    beside = Path(sys.executable).with_name("simba-music")
    if beside.is_file() and os.access(beside, os.X_OK):
        differs = on_path is not None and Path(on_path).resolve() != beside.resolve()
        return [str(beside)], on_path if differs else None
    if on_path is not None:
        return [on_path], None
    return [sys.executable, "-c", "import sys; from simba_music_cli import main; sys.exit(main())"], None


def wall_time(command: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed rounds; each figure is their median")
    parser.add_argument("--smoke", action="store_true", help="one round, nothing untimed: checks that it runs")
    args = parser.parse_args()
    runs, warmup = (1, 0) if args.smoke else (args.runs, 1)
    cli, path_cli = installed_cli()
    commands = {"python_baseline": [sys.executable, "-c", "pass"]}
    commands |= {name: cli + arguments for name, arguments in COMMANDS.items()}
    if path_cli is not None:
        commands["generate_help_via_path"] = [path_cli, *COMMANDS["generate_help"]]
    samples, exit_codes = {name: [] for name in commands}, {}
    for round_index in range(warmup + runs):
        for name, command in commands.items():
            seconds, exit_codes[name] = wall_time(command)
            if round_index >= warmup:
                samples[name].append(seconds)
    baseline = statistics.median(samples["python_baseline"])
    results = {}
    for name, command in commands.items():
        median = statistics.median(samples[name])
        results[name] = {"command": " ".join(command), "median_s": round(median, 3),
                         "min_s": round(min(samples[name]), 3), "max_s": round(max(samples[name]), 3),
                         "over_python_s": round(median - baseline, 3), "exit_code": exit_codes[name],
                         "under_1s": median < TARGET_S}
    report = {"runs": runs, "smoke": args.smoke, "target_s": TARGET_S, "cpu_count": os.cpu_count(),
              "load_average_1min": round(os.getloadavg()[0], 2), "results": results,
              "all_under_1s": all(entry["under_1s"] for name, entry in results.items() if name != "python_baseline")}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
