"""Every benchmark script still runs: each is started as its own process with `--smoke` (one round at toy sizes) and
must exit 0 and print its JSON report with the keys its readers use. None of the figures is checked: this is not a
timing, it catches a script that an API change has broken."""

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
ONE_THREAD = ["--threads", "1"]
NEEDS_LAB = {"bench_live_switch.py"}  # its instrument classifier is simba_music_lab's
ARGUMENTS = {
    "bench_decoder.py": ONE_THREAD,
    "bench_kernels.py": ONE_THREAD,
    "bench_training.py": ONE_THREAD,
    "bench_vs_musicgen.py": ONE_THREAD,
    "bench_live.py": [*ONE_THREAD, "--no-progress"],
    "bench_live_switch.py": [*ONE_THREAD, "--no-progress"],
    "bench_cli.py": [],
}


def test_every_benchmark_script_has_a_smoke_run():
    assert sorted(ARGUMENTS) == sorted(path.name for path in BENCHMARKS.glob("bench_*.py"))


def run_smoke(script: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke", *ARGUMENTS[script]], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def smoke_runs(request):
    """The selected scripts' runs, two at a time (each mostly imports torch), started at once: {script: future}."""
    selected = {item.callspec.params["script"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {script: pool.submit(run_smoke, script) for script in sorted(selected)}


def has(entry: dict, *keys: str) -> None:
    missing = [key for key in keys if key not in entry]
    assert not missing, f"missing {missing} in {entry}"


def check_decoder(report):
    has(report, "threads", "torch", "length", "results")
    by_bench = {entry["bench"]: entry for entry in report["results"]}
    assert set(by_bench) == {"forward", "decode_step", "users_prefix_mamba_forward", "users_prefix_mamba_generate",
                             "paper_prefix_simba_decode_vs_linear_floor", "train_step_tiny"}
    for entry in by_bench.values():
        has(entry, "ratio", "target")
    has(by_bench["paper_prefix_simba_decode_vs_linear_floor"], "step_ms", "linear_floor_ms", "state_read_ms",
        "ops_per_step", "dispatch_us_per_op", "ratio_linear_state_and_dispatch")


def check_kernels(report):
    has(report, "threads", "length", "ssd", "selective_scan", "linear")
    has(report["ssd"][0], "transformers_chunk256_s", *(f"ratio_chunk{chunk}" for chunk in (32, 64, 128, 256)))
    has(report["selective_scan"][0], "transformers_s", *(f"ratio_block{block}" for block in (8, 16, 32, 64)))
    for entry in report["linear"]:
        has(entry, "dtype", "rows", "ratio_weight_major", "ratio_column_major_rows_to_weight_major",
            "library_uses_weight_major")


def check_training(report):
    assert isinstance(report, list) and report
    has(report[0], "size", "prefix_simba_tokens_per_s", "cross_transformer_tokens_per_s", "prefix_simba_params_m",
        "ratio_simba_over_transformer")


def check_vs_musicgen(report):
    has(report, "threads", "batch", "results")
    *steps, flatness = report["results"]
    assert [entry["context"] for entry in steps] == [8, 16]
    for entry in steps:
        has(entry, "dtype", "ours_ms", "musicgen_ms", "ratio")
    has(flatness, "ours_flatness", "target")


def check_live(report):
    has(report, "audio_seconds", "real_time_factor", "codec_share_of_wall", "ms_per_frame_first_window",
        "ms_per_frame_last_window", "last_over_first", "rss_mb_after_1_minute", "rss_mb_end", "rss_end_over_1_minute",
        "join_prefill_seconds", "longest_chunk_seconds", "simulated_underruns_at_real_time")
    assert report["state_shapes_constant"] is True  # the cache keeps its size: a property, not a timing
    assert report["join_prefill_seconds"] is not None


def check_live_switch(report):
    has(report, "switches", "heard_from_seconds", "until_seconds", "new_instrument_named", "classifier", "results")
    assert len(report["results"]) == report["switches"]
    for entry in report["results"]:
        has(entry, "from", "to", "heard", "probability_of_new")


def check_cli(report):
    has(report, "runs", "target_s", "all_under_1s", "results")
    results = report["results"]
    assert {"python_baseline", "help", "generate_help", "demo_help", "usage_error", "version"} <= set(results)
    for name, entry in results.items():
        has(entry, "command", "median_s", "over_python_s", "under_1s")
        assert entry["exit_code"] == (2 if name == "usage_error" else 0), entry


CHECKS = {"bench_decoder.py": check_decoder, "bench_kernels.py": check_kernels, "bench_training.py": check_training,
          "bench_vs_musicgen.py": check_vs_musicgen, "bench_live.py": check_live,
          "bench_live_switch.py": check_live_switch, "bench_cli.py": check_cli}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(ARGUMENTS))
def test_the_benchmark_runs_in_smoke_mode_and_prints_its_json(script, smoke_runs):
    if script in NEEDS_LAB and importlib.util.find_spec("simba_music_lab") is None:
        pytest.skip(f"{script} needs the lab distribution (pip install -e lab)")
    result = smoke_runs[script].result()
    assert result.returncode == 0, f"{script} --smoke exited {result.returncode}:\n{result.stderr[-3000:]}"
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"{script} --smoke did not print one JSON document on stdout ({error}):\n{result.stdout[-3000:]}")
    CHECKS[script](report)
