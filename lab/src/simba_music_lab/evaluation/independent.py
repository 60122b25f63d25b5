"""Key and tempo as estimators this project did not write hear them: librosa always (a lab dependency), essentia
where the user installed it (AGPL-3.0: never a dependency).

The evaluation's own estimators (`key.py`, `tempo.py`) were tuned on this corpus; these are not, so a gain that only
ours hears is suspect. Each runs on the generated clips and, with reference clips, on the real ones (whose key and
tempo are known): their accuracy there says how far each can be trusted on generated music.
"""

from __future__ import annotations

import collections

from simba_music.modeling.keys import key_name, parse_key

from .tempo import available_tempo_estimators, tempo_correct


def independent_estimates(mono, rate: int) -> dict:
    """{"key": {estimator: "F# minor"}, "tempo_bpm": {estimator: bpm}} of one mono clip at `rate`."""
    # Imported here: the codec package's key round trip imports the evaluation package, which imports this module.
    from ..codec.key_round_trip import available_estimators as available_key_estimators

    tempo = {name: round(estimate(mono, rate), 2) for name, estimate in available_tempo_estimators().items()
             if name != "ours"}
    return {"key": {name: key_name(*estimate(mono, rate)) for name, estimate in available_key_estimators().items()},
            "tempo_bpm": tempo}


def independent_adherence(estimates: dict | None, expected: dict) -> dict:
    """Per estimator: key heard exactly as stated, tempo within the tolerance (None where the prompt states none).
    `estimates` None (no independent estimate made) gives empty results."""
    estimates = estimates or {"key": {}, "tempo_bpm": {}}
    key, tempo = expected.get("key"), expected.get("tempo_bpm")
    return {"key_exact": {name: (parse_key(heard) == parse_key(key)) if key else None
                          for name, heard in estimates["key"].items()},
            "tempo_correct": {name: tempo_correct(bpm, tempo) if tempo else None
                              for name, bpm in estimates["tempo_bpm"].items()}}


def summarise_independent(rows: list[dict]) -> dict:
    """Accuracy per estimator over the rows that state a key / a tempo, and how many distinct keys each hears."""
    def accuracy(field: str) -> dict:
        by_name = collections.defaultdict(list)
        for row in rows:
            for name, correct in row.get("independent_adherence", {}).get(field, {}).items():
                if correct is not None:
                    by_name[name].append(float(correct))
        return {name: sum(values) / len(values) for name, values in by_name.items()}

    distinct = collections.defaultdict(set)
    for row in rows:
        for name, key in row.get("independent", {}).get("key", {}).items():
            distinct[name].add(key)
    return {"key_exact_accuracy": accuracy("key_exact"), "tempo_accuracy": accuracy("tempo_correct"),
            "distinct_keys_heard": {name: len(keys) for name, keys in distinct.items()},
            "estimators": "librosa (feature.tempo; chroma-CQT with Krumhansl-Kessler profiles); essentia "
                          "(PercivalBpmEstimator, KeyExtractor) where installed"}


__all__ = ["independent_adherence", "independent_estimates", "summarise_independent"]
