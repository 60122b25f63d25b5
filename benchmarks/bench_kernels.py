"""Slow-path scan alternatives, measured in one process; prints JSON.

    python benchmarks/bench_kernels.py [--threads 2] [--length 1500] [--only ssd selective_scan linear] [--smoke]

- SSD (Mamba2) chunk length: our chunked scan at Q in {32, 64, 128, 256}, against transformers' PyTorch
  `mamba2_chunk_scan` at its Q=256, at the medium (H 16, N 128) and paper (H 32, N 512) sizes.
- Selective scan (Mamba): our cache-blocked recurrence at blocks of {8, 16, 32, 64} steps, against transformers'
  PyTorch `mamba_selective_scan` fallback.
- Few-row linear (`modeling/linear.py`): `F.linear` (x @ W^T) against the weight-major W @ x^T for 1-64 rows, on
  weights that do not fit in cache (16 distinct ones in turn), float32 and bfloat16, decode-size shapes.
Inputs are random; only time is measured (correctness is in tests/modeling/test_torch_kernels.py).
The report is the JSON on stdout; each entry is also printed to stderr as it is measured. `--smoke` runs every section
once at toy sizes (L = 64) in seconds: it checks that the script still runs; none of its figures mean anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

import torch
from timing import timed
from transformers.models.mamba.modeling_mamba import mamba_selective_scan
from transformers.models.mamba2.modeling_mamba2 import mamba2_chunk_scan

from simba_music.modeling import torch_kernels
from simba_music.modeling.linear import WEIGHT_MAJOR_MAX_ROWS

SECTIONS = ("ssd", "selective_scan", "linear")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--length", type=int, default=1500)
    parser.add_argument("--only", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--smoke", action="store_true", help="each section once at toy sizes: checks that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.length = 64
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    report = {"threads": args.threads, "length": args.length, "smoke": args.smoke}
    for section in args.only:
        report[section] = globals()[f"bench_{section}"](args.length, args.smoke)
    print(json.dumps(report, indent=1))


def progress(entry: dict) -> None:
    print(json.dumps(entry), file=sys.stderr, flush=True)


def bench_ssd(L: int, smoke: bool = False) -> list[dict]:
    entries = []
    sizes = (("smoke", 2, 16),) if smoke else (("medium", 16, 128), ("paper", 32, 512))
    repeats = 1 if smoke else 3
    for name, heads, state in sizes:
        x, dt = torch.randn(1, L, heads, 64), torch.rand(1, L, heads) * 0.1
        A, D = -torch.rand(heads) * 4, torch.randn(heads)
        B, C = torch.randn(1, L, 1, state), torch.randn(1, L, 1, state)
        baseline = timed(partial(mamba2_chunk_scan, x, dt, A, B, C, chunk_size=256, D=D), repeats)
        entry = {"size": name, "transformers_chunk256_s": baseline}
        for chunk in (32, 64, 128, 256):
            saved, torch_kernels.SSD_CPU_CHUNK = torch_kernels.SSD_CPU_CHUNK, chunk
            ours = timed(partial(torch_kernels.ssd_scan, x, dt, A, B, C, D, chunk_size=chunk), repeats)
            torch_kernels.SSD_CPU_CHUNK = saved
            entry[f"ours_chunk{chunk}_s"] = ours
            entry[f"ratio_chunk{chunk}"] = ours / baseline
        entries.append(entry)
        progress(entry)
    return entries


def bench_selective_scan(L: int, smoke: bool = False) -> list[dict]:
    channels, state = (32 if smoke else 1024), 16
    repeats = 1 if smoke else 3
    u, delta = torch.randn(1, channels, L), torch.rand(1, channels, L) * 0.1
    A, D = -torch.rand(channels, state) * 4, torch.randn(channels)
    B, C, z = torch.randn(1, state, L), torch.randn(1, state, L), torch.randn(1, channels, L)
    baseline = timed(lambda: mamba_selective_scan(u, delta, A, B, C, D=D, z=z, delta_softplus=False,
                                                  use_mambapy=False, use_associative_scan=False), repeats)
    entry = {"channels": channels, "state": state, "transformers_s": baseline}
    for block in (8, 16, 32, 64):
        ours = timed(partial(torch_kernels.selective_scan, u, delta, A, B, C, D, z, block=block), repeats)
        entry[f"ours_block{block}_s"] = ours
        entry[f"ratio_block{block}"] = ours / baseline
    progress(entry)
    return [entry]


def bench_linear(_length: int, smoke: bool = False) -> list[dict]:
    entries = []
    # The medium Mamba2 in_proj, an out_proj, and the paper size's in_proj.
    shapes = ((64, 32),) if smoke else ((2320, 512), (512, 1024), (5152, 1024))
    distinct, repeats = (2, 1) if smoke else (16, 5)
    for dtype, (out_features, in_features) in ((d, s) for d in (torch.float32, torch.bfloat16) for s in shapes):
        weights = [torch.randn(out_features, in_features, dtype=dtype) for _ in range(distinct)]
        for rows in (1, 2) if smoke else (1, 2, 4, 8, 16, 32, 64):
            x = torch.randn(rows, in_features, dtype=dtype)
            standard = timed(lambda: [torch.nn.functional.linear(x, w) for w in weights], repeats) / distinct  # noqa: B023
            weight_major = timed(lambda: [torch.mm(w, x.t()).t() for w in weights], repeats) / distinct  # noqa: B023
            # The same rows stored column-major (what an elementwise op on a transposed product returns): the
            # library copies them to rows first, because this operand layout streams W far slower.
            column_major = x.t().contiguous().t()
            strided = timed(lambda: [torch.mm(w, column_major.t()).t() for w in weights], repeats) / distinct  # noqa: B023
            entry = {"dtype": str(dtype).removeprefix("torch."), "weight": [out_features, in_features], "rows": rows,
                     "f_linear_us": standard * 1e6, "weight_major_us": weight_major * 1e6,
                     "ratio_weight_major": weight_major / standard,
                     "ratio_column_major_rows_to_weight_major": strided / weight_major,
                     "library_uses_weight_major": dtype == torch.float32 and 1 < rows <= WEIGHT_MAJOR_MAX_ROWS}
            entries.append(entry)
            progress(entry)
    return entries


if __name__ == "__main__":
    main()
