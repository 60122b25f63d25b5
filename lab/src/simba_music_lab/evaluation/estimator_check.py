"""How good are the key and tempo estimators on real audio? Run them on corpus clips whose manifest rows carry the
score's key and tempo (`simba-music-lab estimators check`): their accuracy there is the ceiling for prompt adherence.

Note that the manifest key is music21's analysis of the whole score, while a clip is a 10 s excerpt, so a modulating
excerpt can disagree with its label even when the estimate is musically right.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..shipped import LAB_PRETRAINED_ROOT
from .features import load_audio
from .key import KEY_CHANCE, estimate_key, key_score
from .tempo import METRICAL_FACTORS, TOLERANCE, estimate_tempo, tempo_correct

SHIPPED_RESULTS = LAB_PRETRAINED_ROOT / "estimator-validation.json"


def check_estimators(manifest: str, split: str = "test", clips: int = 50, seed: int = 0,
                     progress: bool = True) -> dict:
    """Key exact accuracy, weighted key score and tempo accuracy on `clips` random clips (drawn with `seed`) of
    `split`, with per-clip rows."""
    from tqdm.auto import tqdm

    from simba_music.training.manifest import read_manifest

    if not Path(manifest).is_file():
        raise ValueError(f"manifest: no such file {manifest!r}")
    if clips < 1:
        raise ValueError(f"clips: must be >= 1, got {clips}")
    rows = [row for row in read_manifest(manifest, split) if row.get("key") and row.get("tempo_bpm")]
    if not rows:
        raise ValueError(f"manifest: no {split!r} clips with 'key' and 'tempo_bpm'")
    rows = random.Random(seed).sample(rows, min(clips, len(rows)))
    results = []
    for row in tqdm(rows, desc="estimators", unit="clip", disable=not progress):
        audio = load_audio(row["audio"])
        key, _ = estimate_key(audio)
        tempo = estimate_tempo(audio)
        results.append({"clip_id": row.get("clip_id", row["audio"]), "key": row["key"], "estimated_key": key,
                        "key_score": key_score(key, row["key"]), "tempo_bpm": row["tempo_bpm"],
                        "estimated_tempo_bpm": round(tempo, 2), "tempo_correct": tempo_correct(tempo, row["tempo_bpm"]),
                        "tempo_correct_allowing_3_2": tempo_correct(tempo, row["tempo_bpm"], factors=METRICAL_FACTORS),
                        "meter": row.get("meter"), "instrument": row.get("instrument")})
    count = len(results)
    return {
        "manifest": str(manifest), "split": split, "clips": count, "seed": seed,
        "key": {"exact_accuracy": sum(r["key_score"] == 1.0 for r in results) / count,
                "weighted_score": sum(r["key_score"] for r in results) / count, "chance_exact": KEY_CHANCE},
        "tempo": {"accuracy": sum(r["tempo_correct"] for r in results) / count, "tolerance": TOLERANCE,
                  "octave_errors_allowed": True,
                  "accuracy_allowing_3_2": sum(r["tempo_correct_allowing_3_2"] for r in results) / count},
        "rows": results,
    }


__all__ = ["SHIPPED_RESULTS", "check_estimators"]
