"""Held-out measures of a codec's reconstructions, shared by the trainer's periodic evaluation and the report."""

from __future__ import annotations

import numpy as np
import torch

from simba_music_lab.codec.comb import comb_strength
from simba_music_lab.codec.losses import mel_distance
from simba_music_lab.codec.note_metrics import note_f1


def held_out_metrics(reconstructions: np.ndarray, originals: np.ndarray, sample_rate: int, frame_rate: float,
                     transcriber=None) -> dict:
    """Mean mel distance, comb strength of the reconstructions and of the originals (the floor), and, with a
    ``NoteTranscriber``, the note F1 pooled over all clips. Arrays: (clips, samples), mono."""
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    originals = np.asarray(originals, dtype=np.float32)
    if reconstructions.shape != originals.shape or reconstructions.ndim != 2:
        raise ValueError(f"reconstructions and originals: need equal (clips, samples) shapes, got "
                         f"{reconstructions.shape} and {originals.shape}")
    results = {
        "mel_distance": round(float(mel_distance(torch.from_numpy(reconstructions), torch.from_numpy(originals),
                                                 sample_rate).mean()), 5),
        "comb_strength": round(float(np.mean([comb_strength(x, sample_rate, frame_rate) for x in reconstructions])), 4),
        "comb_strength_original": round(float(np.mean([comb_strength(x, sample_rate, frame_rate)
                                                       for x in originals])), 4),
    }
    if transcriber is not None:
        counts = np.zeros(3, dtype=np.int64)
        for reconstruction, original in zip(reconstructions, originals, strict=True):
            agreement = note_f1(transcriber.transcribe(original, sample_rate),
                                transcriber.transcribe(reconstruction, sample_rate))
            counts += [agreement[k] for k in ("matched", "reference_notes", "estimated_notes")]
        results["note_f1"] = round(2 * int(counts[0]) / max(int(counts[1] + counts[2]), 1), 4)
        results["reference_notes"] = int(counts[1])
    return results
