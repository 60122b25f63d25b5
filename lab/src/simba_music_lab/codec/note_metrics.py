"""Note-level agreement: onset/pitch F1 between two note lists, offsets ignored.

A reference note and an estimated note may match when their MIDI pitches are equal and their onsets are at most
``onset_tolerance`` seconds apart (50 ms, as in mir_eval's transcription metrics with ``offset_ratio=None``). Each note
matches at most one other (one-to-one); the number of matches is maximised with ``scipy.optimize.
linear_sum_assignment`` on a cost matrix where a non-admissible pair costs 1 and an admissible pair costs less than
``1 / (pairs + 1)``, scaled by its onset distance: the optimum first has the most admissible pairs, then among
those the smallest total onset distance. The cost-1 pairs the solver fills in are not counted.
"""

from __future__ import annotations

import numpy as np


def _as_notes(notes) -> np.ndarray:
    array = np.asarray(notes, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 3))
    if array.ndim != 2 or array.shape[1] < 3:
        raise ValueError(f"notes must be (n, 3) rows of (onset s, offset s, MIDI pitch), got shape {array.shape}")
    return array


def match_notes(reference, estimate, onset_tolerance: float = 0.05) -> list[tuple[int, int]]:
    """Pairs (reference row, estimate row) of a maximum one-to-one matching on pitch and onset."""
    from scipy.optimize import linear_sum_assignment

    reference, estimate = _as_notes(reference), _as_notes(estimate)
    if len(reference) == 0 or len(estimate) == 0:
        return []
    distance = np.abs(reference[:, None, 0] - estimate[None, :, 0])
    admissible = (np.round(reference[:, None, 2]) == np.round(estimate[None, :, 2])) & (
        distance <= onset_tolerance + 1e-9
    )
    pairs = min(len(reference), len(estimate))
    cost = np.where(admissible, distance / (onset_tolerance + 1e-9) / (pairs + 1), 1.0)
    rows, columns = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, columns, strict=True) if admissible[r, c]]


def note_f1(reference, estimate, onset_tolerance: float = 0.05) -> dict:
    """precision, recall, f1 and the counts behind them; two empty lists agree perfectly (f1 = 1)."""
    reference, estimate = _as_notes(reference), _as_notes(estimate)
    matched = len(match_notes(reference, estimate, onset_tolerance))
    counts = {"matched": matched, "reference_notes": len(reference), "estimated_notes": len(estimate)}
    if len(reference) == 0 and len(estimate) == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, **counts}
    precision = matched / len(estimate) if len(estimate) else 0.0
    recall = matched / len(reference) if len(reference) else 0.0
    return {"precision": precision, "recall": recall, "f1": 2 * matched / (len(reference) + len(estimate)), **counts}
