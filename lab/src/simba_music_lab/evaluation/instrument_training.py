"""Training the instrument classifier on the corpus renders (`simba-music-lab classifier train`).

The corpus manifest's `split` is by work, so the test clips come from works the classifier never heard. Training uses
a class-balanced subset of the train split (`per_class` clips per instrument, drawn with a seed), which keeps feature
extraction to a few minutes of one CPU core.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from .features import load_audio
from .instrument import InstrumentClassifier, instrument_features


def balanced_subset(rows: list[dict], per_class: int, seed: int = 0, label: str = "instrument") -> list[dict]:
    """At most `per_class` rows of each `label`, drawn with `seed`; the order is by label, then drawn order."""
    if per_class < 1:
        raise ValueError(f"per_class: must be >= 1, got {per_class}")
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row[label]].append(row)
    generator = random.Random(seed)
    chosen = []
    for name in sorted(groups):
        members = list(groups[name])
        generator.shuffle(members)
        chosen.extend(members[:per_class])
    return chosen


def clip_features(rows: list[dict], progress: bool = True, description: str = "features",
                  codec=None) -> np.ndarray:
    """Instrument features of each row's `audio` file: [rows, FEATURE_SIZE]. With `codec` (an `AudioCodec`), of the
    clip after an encode/decode round trip through it instead."""
    from tqdm.auto import tqdm

    return np.stack([instrument_features(load_audio(row["audio"]) if codec is None else round_trip(row, codec))
                     for row in tqdm(rows, desc=description, unit="clip", disable=not progress)])


def round_trip(row: dict, codec) -> np.ndarray:
    """The clip as the codec reproduces it, mono at the analysis rate."""
    from .distance import reconstruct_with_codec
    from .features import ANALYSIS_RATE, conform

    decoded = reconstruct_with_codec(codec, load_audio(row["audio"], codec.sampling_rate))
    return conform(decoded.mean(0).astype(np.float64), codec.sampling_rate, ANALYSIS_RATE)


def accuracy_report(model: InstrumentClassifier, features: np.ndarray, names: list[str]) -> dict:
    """Accuracy, chance levels and the confusion matrix (rows: true label, columns: predicted; model label order)."""
    index = {name: i for i, name in enumerate(model.labels)}
    unknown = sorted(set(names) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classifier's {model.labels}")
    predicted = np.argmax(model.probabilities(features), axis=1)
    truth = np.array([index[name] for name in names])
    confusion = np.zeros((len(index), len(index)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    counts = Counter(names)
    return {"accuracy": float(np.mean(predicted == truth)), "clips": len(names),
            "chance_uniform": 1.0 / len(model.labels), "majority_class_rate": max(counts.values()) / len(names),
            "majority_class": counts.most_common(1)[0][0],
            "per_class_accuracy": {name: float(confusion[i, i] / max(confusion[i].sum(), 1))
                                   for name, i in index.items() if confusion[i].sum()},
            "confusion": confusion.tolist()}


def train_instrument_classifier(manifest: str, output_dir: str | Path, per_class: int = 150,
                                hidden_size: int = 64, epochs: int = 400, seed: int = 0, test_split: str = "test",
                                max_test_clips: int | None = None, progress: bool = True,
                                through_codec: str | None = None, codec_codebooks: int = 1,
                                overwrite: bool = False) -> dict:
    """Train on a balanced train-split subset of `manifest`, test on `test_split`, save to `output_dir`; returns the
    metrics (also stored in the saved config.json).

    `through_codec` (a saved EnCodec/DAC folder): train and test on the clips' round trip through that codec with
    `codec_codebooks` codebooks, which is how a model's generated audio sounds (the demo decodes codebook 1 alone);
    a classifier of clean renders judges generated audio by the codec's artefacts as much as by its instrument.

    `output_dir` has no default: a trainer never writes into the installed package unless told to (the shipped
    classifier's folder is `simba_music_lab.evaluation.instrument.PRETRAINED_DIR`)."""
    from simba_music.io_utils import check_output_directory
    from simba_music.training.manifest import read_manifest

    if not Path(manifest).is_file():
        raise ValueError(f"manifest: no such file {manifest!r}")
    check_output_directory(output_dir, "--output-dir", overwrite, inputs=(manifest, through_codec),
                           writer="simba-music-lab classifier train")
    started = time.perf_counter()
    train_rows = balanced_subset(read_manifest(manifest, "train"), per_class, seed)
    test_rows = read_manifest(manifest, test_split)
    if max_test_clips is not None:
        test_rows = random.Random(seed).sample(test_rows, min(max_test_clips, len(test_rows)))
    if not train_rows or not test_rows:
        raise ValueError(f"manifest: {manifest!r} needs clips in the 'train' and {test_split!r} splits")
    labels = sorted({row["instrument"] for row in train_rows})
    codec = None
    if through_codec is not None:
        from transformers import AutoModel

        from simba_music.modeling.audio_codec import AudioCodec

        codec = AudioCodec(AutoModel.from_pretrained(through_codec).eval(), codec_codebooks)
    train_features = clip_features(train_rows, progress, "train features", codec)
    test_features = clip_features(test_rows, progress, f"{test_split} features", codec)
    features_seconds = time.perf_counter() - started

    model = InstrumentClassifier(labels, train_features.shape[1], hidden_size)
    targets = np.array([labels.index(row["instrument"]) for row in train_rows])
    losses = model.fit(train_features, targets, epochs=epochs, seed=seed)
    train_report = accuracy_report(model, train_features, [row["instrument"] for row in train_rows])
    test_report = accuracy_report(model, test_features, [row["instrument"] for row in test_rows])
    model.metrics = {
        "test_split": test_split, "test": test_report, "train_accuracy": train_report["accuracy"],
        "train_clips": len(train_rows), "per_class": per_class, "epochs": epochs, "final_loss": losses[-1],
        "seed": seed, "seconds": time.perf_counter() - started, "feature_seconds": features_seconds,
        "manifest": str(manifest), "through_codec": None if through_codec is None else {
            "codec": str(through_codec), "codebooks": codec_codebooks},
    }
    model.save(output_dir, overwrite=overwrite)
    return model.metrics


__all__ = ["accuracy_report", "balanced_subset", "clip_features", "train_instrument_classifier"]
