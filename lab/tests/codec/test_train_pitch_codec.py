"""Smoke test of the resumable pitch-codec trainer on a few synthetic clips (tiny settings, one thread)."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import AutoModel

import simba_music  # noqa: F401  (registers pitch_codec with the Auto classes)

SCRIPT = Path(__file__).resolve().parents[2] / "src" / "simba_music_lab" / "codec" / "train_pitch_codec.py"


def load_trainer():
    spec = importlib.util.spec_from_file_location("train_pitch_codec", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_clips(folder: Path, count: int = 4) -> None:
    folder.mkdir()
    t = np.arange(16000) / 16000
    for index in range(count):
        tone = sum(np.sin(2 * math.pi * 110 * 2 ** ((index + step) / 12) * t) for step in (0, 4, 7))
        sf.write(folder / f"clip{index}.wav", (0.2 * tone).astype(np.float32), 16000)


@pytest.mark.slow
def test_trains_checkpoints_resumes_and_exports(tmp_path):
    trainer = load_trainer()
    write_clips(tmp_path / "data")
    common = ["--data", str(tmp_path / "data"), "--output-dir", str(tmp_path / "run"), "--codebook-size", "8",
              "--kmeans-iterations", "2", "--decoder-hidden-size", "16", "--decoder-num-layers", "1",
              "--batch-size", "2", "--segment-frames", "10", "--checkpoint-every", "2"]
    trainer.main(common + ["--max-steps", "2"])
    assert (tmp_path / "run" / "checkpoints" / "step-2").is_dir()
    trainer.main(common + ["--max-steps", "4", "--resume", "--export-fp16", str(tmp_path / "fp16")])
    state = json.loads((tmp_path / "run" / "checkpoints" / "step-4" / "trainer_state.json").read_text())
    assert state["step"] == 4
    model = AutoModel.from_pretrained(tmp_path / "run" / "model").eval()
    assert torch.equal(model.codebooks, torch.load(tmp_path / "run" / "codebooks.pt"))
    half = AutoModel.from_pretrained(tmp_path / "fp16").eval()
    assert half.codebooks.dtype == torch.float16
    audio = torch.from_numpy(sf.read(tmp_path / "data" / "clip0.wav", dtype="float32")[0])[None, None]
    codes = model.encode(audio)
    assert codes.shape == (1, 2, 50) and len(codes[0, 0].unique()) > 1
    with torch.no_grad():
        assert torch.isfinite(half.decode(codes)).all()
