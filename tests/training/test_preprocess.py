"""Preprocessing a folder of good and bad audio files into codec tokens."""

import json

import numpy as np
import soundfile

from simba_music.modeling.audio_codec import AudioCodec
from simba_music.testing_utils import tiny_random_codec
from simba_music.training.data import load_training_data
from simba_music.training.preprocess import PreprocessArguments, preprocess, read_manifest, run


def _tone(seconds, rate, channels=1, freq=330.0):
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([wave] * channels, axis=1).astype(np.float32)


def _folder(tmp_path):
    files = {
        "good_mono.wav": (_tone(5.0, 16000), 16000),
        "good_stereo_44k.wav": (_tone(3.0, 44100, channels=2, freq=220.0), 44100),
        "silent.wav": (np.zeros((16000, 1), np.float32), 16000),
        "short.wav": (_tone(0.5, 16000), 16000),
        "nan.wav": (np.full((16000, 1), np.nan, np.float32), 16000),
        "empty.wav": (np.zeros((0, 1), np.float32), 16000),
    }
    rows = []
    for name, (audio, rate) in files.items():
        soundfile.write(tmp_path / name, audio, rate, subtype="FLOAT")
        rows.append({"audio": name, "caption": f"a {name}", "split": "validation" if "stereo" in name else "train",
                     "instrument": "organ"})
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF not really a wav file at all")
    rows.append({"audio": "corrupt.wav", "caption": "broken", "split": "train", "instrument": "none"})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    return manifest


def test_preprocess_counts_bad_files_and_encodes_good_ones(tmp_path):
    manifest = _folder(tmp_path)
    codec = AudioCodec(tiny_random_codec(), num_codebooks=1)
    summary = preprocess(read_manifest(str(manifest)), codec, str(tmp_path / "out"), segment_seconds=2.0,
                         min_seconds=1.0, progress=False)
    assert summary["skipped"] == {"silent": 1, "too_short": 1, "nan": 1, "empty": 1, "corrupt": 1}
    assert summary["files"] == 7 and summary["files_encoded"] == 2
    # 5 s mono -> 2 + 2 + 1 s (padded) segments; 3 s stereo at 44.1 kHz -> 2 + 1 s segments.
    assert summary["segments"] == 5 and summary["splits"] == {"train": 3, "validation": 2}
    assert abs(summary["hours_encoded"] - 5 * 2.0 / 3600) < 1e-9
    data = load_training_data(str(tmp_path / "out"))
    row = data.train[0]
    assert row["codes"].shape == (100,)  # 2 s at 50 frames/s
    assert len(set(row["codes"].tolist())) > 5  # randomized codebooks: the codes vary
    assert row["instrument"] == "organ" and row["caption"] == "a good_mono.wav"
    assert data.needs_text_encoder and not (tmp_path / ".out.tmp").exists()


def test_preprocess_cli_entry_and_cached_text_states(tmp_path):
    from simba_music.testing_utils import tiny_text_encoder, tiny_tokenizer

    manifest = _folder(tmp_path)
    codec_dir, text_dir = tmp_path / "codec", tmp_path / "text"
    tiny_random_codec().save_pretrained(codec_dir)
    tiny_text_encoder("bert").save_pretrained(text_dir)
    tiny_tokenizer(kind="bert").save_pretrained(text_dir)
    summary = run(PreprocessArguments(manifest=str(manifest), output_dir=str(tmp_path / "out"), codec=str(codec_dir),
                                      segment_seconds=2.0, min_seconds=1.0, text_encoder=str(text_dir),
                                      progress=False))
    assert summary["segments"] == 5
    data = load_training_data(str(tmp_path / "out"))
    assert not data.needs_text_encoder and data.empty_text_states is not None
    assert data.train[0]["text_states"].shape[-1] == data.empty_text_states.shape[-1]


def test_end_to_end_preprocess_then_train_with_a_frozen_text_encoder(tmp_path):
    """Captions encoded on the fly by a frozen encoder (no cached states), codes from the codec."""
    from simba_music.testing_utils import tiny_text_encoder, tiny_tokenizer
    from simba_music.training.train import TrainArguments, train

    manifest = _folder(tmp_path)
    text_dir = tmp_path / "text"
    tiny_text_encoder("bert").save_pretrained(text_dir)
    tiny_tokenizer(kind="bert").save_pretrained(text_dir)
    codec = AudioCodec(tiny_random_codec(), num_codebooks=1)
    preprocess(read_manifest(str(manifest)), codec, str(tmp_path / "data"), segment_seconds=1.0, min_seconds=1.0,
               progress=False)
    config = {"hidden_size": 32, "num_hidden_layers": 2, "state_size": 8, "head_dim": 16, "chunk_size": 16,
              "text_hidden_size": 16, "vocab_size": 1025, "special_token_id": 1024}
    (tmp_path / "config.json").write_text(json.dumps(config))
    summary = train(TrainArguments(dataset=str(tmp_path / "data"), output_dir=str(tmp_path / "run"),
                                   config=str(tmp_path / "config.json"), text_encoder=str(text_dir), max_steps=4,
                                   batch_size=2, warmup_steps=1, eval_every=2, save_every=2, caption_dropout=0.5,
                                   progress=False))
    assert summary["steps"] == 4 and all(np.isfinite(r["loss"]) for r in summary["history"])
    assert "eval_loss" in summary["history"][-1]


def test_preprocess_with_a_saved_wavtokenizer_codec(tmp_path):
    from simba_music.testing_utils import tiny_wavtokenizer

    manifest = _folder(tmp_path)
    codec_dir = tmp_path / "codec"
    tiny_wavtokenizer(sampling_rate=16000).save_pretrained(codec_dir)
    summary = run(PreprocessArguments(manifest=str(manifest), output_dir=str(tmp_path / "out"), codec=str(codec_dir),
                                      segment_seconds=2.0, min_seconds=1.0, progress=False))
    assert summary["segments"] == 5
    row = load_training_data(str(tmp_path / "out")).train[0]
    assert row["codes"].shape == (50,)  # 2 s at 25 frames/s (hop 640), one codebook
    assert len(set(row["codes"].tolist())) > 3
