import json
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLE_RATE = 16000


def _melody(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Harmonic notes with decaying envelopes: music-like enough to give the encoder varied frames."""
    total = int(seconds * SAMPLE_RATE)
    audio = np.zeros(total, dtype=np.float64)
    position = 0
    while position < total:
        length = int(rng.uniform(0.15, 0.5) * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        frequency = 220.0 * 2 ** (rng.integers(-12, 13) / 12)
        note = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in (1, 2, 3, 4))
        note *= np.exp(-t * rng.uniform(2, 8))
        end = min(total, position + length)
        audio[position:end] += note[: end - position]
        position = end
    return (0.1 * audio / (np.sqrt(np.mean(audio**2)) + 1e-9)).astype(np.float32)


@pytest.fixture(scope="session")
def synthetic_manifest(tmp_path_factory):
    """Eight 3-s clips (six train, one validation, one test) written as FLAC with a manifest; no fluidsynth."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("synthetic_corpus")
    rng = np.random.default_rng(1234)
    splits = ["train"] * 6 + ["validation", "test"]
    rows = []
    for index, split in enumerate(splits):
        name = f"clip{index}.flac"
        sf.write(folder / name, _melody(rng, 3.0), SAMPLE_RATE, subtype="PCM_16")
        rows.append({"audio": name, "caption": f"synthetic melody {index}", "work_id": f"w{index}", "split": split})
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def tiny_train_config(manifest, output_dir, **overrides):
    from simba_music_lab.codec.train import CodecTrainConfig

    settings = dict(
        manifest=str(manifest),
        output_dir=str(output_dir),
        codebook_size=64,
        num_filters=8,
        hidden_size=32,
        num_lstm_layers=1,
        batch_size=4,
        segment_seconds=0.5,
        max_steps=20,
        quantizer_warmup_steps=8,
        warmup_steps=4,
        learning_rate=1e-3,
        ema_decay=0.9,
        kmeans_batches=4,
        checkpoint_steps=10,
        checkpoint_minutes=1e9,
        log_every=2,
        validation_items=4,
        threads=1,
        progress=False,
        eval_note_f1=False,
    )
    settings.update(overrides)
    return CodecTrainConfig(**settings)
