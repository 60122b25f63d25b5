"""Training-curve plot, written atomically."""

from __future__ import annotations

from pathlib import Path

from ..io_utils import atomic_path


def plot_training_curves(history: list[dict], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    steps = [r["step"] for r in history]
    axis.plot(steps, [r["loss"] for r in history], label="train loss", linewidth=1)
    evaluated = [r for r in history if "eval_loss" in r]
    if evaluated:
        axis.plot([r["step"] for r in evaluated], [r["eval_loss"] for r in evaluated], "o-", label="validation loss")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("cross-entropy")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)
