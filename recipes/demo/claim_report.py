"""The paper's claim, re-tested: validation cross-entropy against steps and training time, per variant.

    python recipes/demo/claim_report.py RESULTS_DIR OUT_DIR [--baseline cross_transformer]

RESULTS_DIR holds one folder per run with `metrics.jsonl` (from `simba-music train`) and `comparison.json`.
Writes `claim.json`, `claim.md` (a table for the README) and `claim.png` (CE vs steps and vs seconds).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

NAMES = {"prefix_simba": "Prefix SiMBA", "cross_transformer": "Cross Transformer", "cross_simba": "Cross SiMBA",
         "prefix_mamba": "Prefix Mamba"}


def read_curve(metrics: Path) -> list[dict]:
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    return [r for r in records if "eval_loss" in r]


def first_step_reaching(curve: list[dict], target: float) -> int | None:
    return next((r["step"] for r in curve if r["eval_loss"] <= target), None)


def interpolated_step_reaching(curve: list[dict], target: float) -> float | None:
    """Where the straight line between the two evaluations around `target` crosses it (evaluations are sparse)."""
    for before, after in zip(curve, curve[1:]):
        if before["eval_loss"] > target >= after["eval_loss"]:
            share = (before["eval_loss"] - target) / (before["eval_loss"] - after["eval_loss"])
            return before["step"] + share * (after["step"] - before["step"])
    return float(curve[0]["step"]) if curve and curve[0]["eval_loss"] <= target else None


def summarize(results: Path, baseline: str) -> dict:
    comparison = json.loads((results / "comparison.json").read_text())
    curves = {run: read_curve(results / run / "metrics.jsonl") for run in comparison["exit"]
              if (results / run / "metrics.jsonl").exists()}
    curves = {run: curve for run, curve in curves.items() if curve}
    target = curves[baseline][-1]["eval_loss"] if baseline in curves else None
    rows = {}
    for run, curve in curves.items():
        final = curve[-1]
        reach = first_step_reaching(curve, target) if target is not None else None
        rows[run] = {"final_step": final["step"], "final_validation_ce": final["eval_loss"],
                     "final_perplexity": math.exp(final["eval_loss"]), "best_validation_ce": min(
                         r["eval_loss"] for r in curve), "train_seconds": final["train_seconds"],
                     "seconds_per_step": final["train_seconds"] / final["step"],
                     "steps_to_baseline_final_ce": reach,
                     "steps_to_baseline_final_ce_interpolated": (interpolated_step_reaching(curve, target)
                                                                 if target is not None else None),
                     "fraction_of_baseline_steps": None if reach is None else reach / curves[baseline][-1]["step"],
                     "stopped_early": final["step"] < (comparison.get("steps") or final["step"])}
    return {"baseline": baseline, "baseline_final_ce": target, "steps": comparison.get("steps"),
            "settings": comparison.get("settings"), "runs": rows, "curves": curves}


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for run, curve in summary["curves"].items():
        label = NAMES.get(run, run)
        by_step.plot([r["step"] for r in curve], [r["eval_loss"] for r in curve], label=label)
        by_time.plot([r["train_seconds"] for r in curve], [r["eval_loss"] for r in curve], label=label)
    if summary["baseline_final_ce"] is not None:
        for axis in (by_step, by_time):
            axis.axhline(summary["baseline_final_ce"], color="grey", linestyle=":", linewidth=1)
    by_step.set_xlabel("optimizer step")
    by_time.set_xlabel("training seconds (evaluation excluded; runs shared one GPU)")
    for axis in (by_step, by_time):
        axis.set_ylabel("validation cross-entropy (nats/token)")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def table(summary: dict) -> str:
    lines = ["| variant | final val. CE | perplexity | best val. CE | steps to the Transformer's final CE "
             "(first evaluation at or below; interpolated) | s/step |", "| --- | --- | --- | --- | --- | --- |"]
    for run, row in summary["runs"].items():
        reach, between = row["steps_to_baseline_final_ce"], row["steps_to_baseline_final_ce_interpolated"]
        total = summary["runs"][summary["baseline"]]["final_step"]  # a share of the baseline's steps
        reach_text = ("not reached" if reach is None else
                      f"{reach} ({reach / total:.0%}); {between:.0f} ({between / total:.0%})")
        if row["stopped_early"]:
            reach_text += f" (stopped at the deadline; last evaluation at step {row['final_step']})"
        lines.append(f"| {NAMES.get(run, run)} | {row['final_validation_ce']:.3f} | {row['final_perplexity']:.1f} | "
                     f"{row['best_validation_ce']:.3f} | {reach_text} | {row['seconds_per_step']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("out")
    parser.add_argument("--baseline", default="cross_transformer")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(Path(args.results), args.baseline)
    plot(summary, out / "claim.png")
    (out / "claim.md").write_text(table(summary))
    (out / "claim.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "curves"}, indent=1))
    print(table(summary))


if __name__ == "__main__":
    main()
