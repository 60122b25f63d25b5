"""The evaluation figure: per-prompt adherence bars and the instrument confusion matrix, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simba_music.io_utils import atomic_path


def confusion_matrix(rows: list[dict], labels: list[str]) -> np.ndarray:
    """Counts [expected, predicted] over the rows that expect an instrument, in `labels` order."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for row in rows:
        if row.get("instrument") in index and row.get("predicted_instrument") in index:
            matrix[index[row["instrument"]], index[row["predicted_instrument"]]] += 1
    return matrix


def plot_evaluation(result: dict, path: str | Path, labels: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["prompts"]
    figure, (bars, matrix_axis) = plt.subplots(1, 2, figsize=(16, 6.5), gridspec_kw={"width_ratios": [1.6, 1]})
    try:
        positions = np.arange(len(rows))
        series = [("instrument", "instrument_correct"), ("key (weighted)", "key_score"), ("tempo", "tempo_correct")]
        for offset, (name, field) in enumerate(series):
            values = [np.nan if row[field] is None else float(row[field]) for row in rows]
            container = bars.bar(positions + (offset - 1) * 0.27, values, width=0.27, label=name)
            zeros = [p for p, v in zip(positions, values, strict=True) if v == 0]  # a zero bar is invisible: mark it
            bars.scatter(np.asarray(zeros) + (offset - 1) * 0.27, [0.01] * len(zeros), marker="x", s=18,
                         color=container.patches[0].get_facecolor() if container.patches else None)
        bars.set_xticks(positions, [str(row["index"]) for row in rows], fontsize=7)
        bars.set(xlabel="prompt", ylabel="score", ylim=(0, 1.05))
        summary = result["adherence"]
        bars.set_title("prompt adherence: instrument {}, key exact {}, tempo {}".format(
            *(_percent(summary[name][field]) for name, field in
              (("instrument", "accuracy"), ("key", "exact_accuracy"), ("tempo", "accuracy")))), fontsize=10)
        bars.legend(loc="upper right", fontsize=8)

        matrix = confusion_matrix(rows, labels)
        matrix_axis.imshow(matrix, cmap="Blues")
        matrix_axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        matrix_axis.set_yticks(range(len(labels)), labels, fontsize=7)
        matrix_axis.set(xlabel="predicted (classifier)", ylabel="prompted", title="instrument confusion")
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                matrix_axis.text(j, i, str(count), ha="center", va="center", fontsize=7)
        figure.tight_layout()
        with atomic_path(path, suffix=".png") as temporary:
            figure.savefig(temporary, format="png", dpi=100)
    finally:
        plt.close(figure)


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


__all__ = ["confusion_matrix", "plot_evaluation"]
