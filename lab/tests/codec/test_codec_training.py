import json

import pytest
import torch

from simba_music_lab.codec.transcription import transcription_unavailable_reason

from .conftest import tiny_train_config

pytestmark = pytest.mark.slow  # codec training runs


def test_loss_decreases_on_a_fixed_batch(synthetic_manifest, tmp_path):
    from simba_music_lab.codec.data import CropSampler
    from simba_music_lab.codec.initialization import build_model, data_dependent_init
    from simba_music_lab.codec.quantizer import kmeans_init_quantizer
    from simba_music_lab.codec.train import CodecTrainingModule

    torch.set_num_threads(1)
    config = tiny_train_config(synthetic_manifest, tmp_path)
    module = CodecTrainingModule(build_model(config), config)
    audio = CropSampler(str(synthetic_manifest), "train", 16000, 8000).batch(0, 4)
    data_dependent_init(module.model, audio)
    with torch.no_grad():
        kmeans_init_quantizer(module.model.quantizer, module.model.encoder(audio), frames_per_step=100)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    losses = []
    for _ in range(12):
        out = module(audio, num_active=4, update_codebooks=True)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        losses.append(float(out["loss"].detach()))
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.fixture(scope="module")
def trained_run(synthetic_manifest, tmp_path_factory):
    from simba_music_lab.codec.train import train_codec

    output_dir = tmp_path_factory.mktemp("codec_run")
    state = train_codec(tiny_train_config(synthetic_manifest, output_dir))
    return output_dir, state


def test_smoke_training_learns_and_uses_many_codes(trained_run):
    output_dir, state = trained_run
    assert state["step"] == 20
    log = [json.loads(line) for line in (output_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(2, 21, 2))
    assert log[-1]["mel_loss"] < log[0]["mel_loss"]
    assert state["validation"]["val_distinct_codes_first"] >= 4  # 4 clips x 50 frames, 64 codes: not collapsed
    checkpoints = sorted(p.name for p in (output_dir / "checkpoints").iterdir())
    assert checkpoints == ["step-10", "step-20"]


def test_exported_model_loads_with_stock_encodec_and_round_trips(trained_run):
    from transformers import EncodecModel

    output_dir, _ = trained_run
    model = EncodecModel.from_pretrained(output_dir / "model").eval()
    assert model.quantizer.layers[0].codebook.embed.abs().sum() > 0  # trained codebooks, not the zero init
    audio = 0.1 * torch.randn(2, 1, 16000, generator=torch.Generator().manual_seed(0))
    for bandwidth, codebooks in zip(model.config.target_bandwidths, (1, 2, 3, 4), strict=True):
        encoded = model.encode(audio, bandwidth=bandwidth)
        assert encoded.audio_codes.shape == (1, 2, codebooks, 50)
        assert int(encoded.audio_codes.max()) < 64
        decoded = model.decode(encoded.audio_codes, encoded.audio_scales).audio_values
        assert decoded.shape == audio.shape
        assert torch.isfinite(decoded).all()
    codes = model.encode(audio, bandwidth=model.config.target_bandwidths[-1]).audio_codes
    assert codes[0, :, 0].unique().numel() > 1


def test_half_precision_export_loads_as_float32_and_decodes_alike(trained_run, tmp_path):
    from transformers import EncodecModel

    from simba_music_lab.codec.pretrained import export_half_precision

    output_dir, _ = trained_run
    destination = export_half_precision(output_dir / "model", tmp_path / "half", "# card\n")
    assert json.loads((destination / "config.json").read_text())["dtype"] == "float32"
    assert (destination / "README.md").read_text() == "# card\n"
    full = EncodecModel.from_pretrained(str(output_dir / "model")).eval()
    half = EncodecModel.from_pretrained(str(destination)).eval()
    assert {p.dtype for p in half.parameters()} == {torch.float32}
    audio = 0.1 * torch.randn(1, 1, 8000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        codes = full.encode(audio, bandwidth=None)
        a = full.decode(codes.audio_codes, codes.audio_scales).audio_values
        b = half.decode(codes.audio_codes, codes.audio_scales).audio_values
    assert float((a - b).abs().max()) < 1e-2 * float(a.abs().max())
    assert not list(tmp_path.glob(".half.*"))  # the temp folder was renamed, not left behind


def test_resume_matches_an_uninterrupted_run(synthetic_manifest, trained_run, tmp_path):
    from safetensors.torch import load_file

    from simba_music_lab.codec.train import train_codec

    output_dir, _ = trained_run
    first = train_codec(tiny_train_config(synthetic_manifest, tmp_path, max_steps=10))
    assert first["step"] == 10
    resumed = train_codec(tiny_train_config(synthetic_manifest, tmp_path, max_steps=20, resume=True))
    assert resumed["step"] == 20
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(2, 21, 2))
    straight = load_file(output_dir / "model" / "model.safetensors")
    interrupted = load_file(tmp_path / "model" / "model.safetensors")
    assert straight.keys() == interrupted.keys()
    worst = max(float((straight[k].float() - interrupted[k].float()).abs().max()) for k in straight)
    assert worst < 1e-4, worst


def test_report_compares_the_codec_with_both_baselines(synthetic_manifest, trained_run, tmp_path):
    from simba_music_lab.codec.report import codec_report

    output_dir, _ = trained_run
    report = codec_report(str(output_dir / "model"), str(synthetic_manifest), str(tmp_path), split="test", max_clips=1)
    assert set(report["mean"]) == {"codec_all_codebooks", "codec_first_codebook", "mu_law_8bit", "telephone_300_3400",
                                   "original"}
    assert report["mean"]["original"]["comb_strength"] < 0.3 and report["mean"]["original"]["mel_distance"] == 0
    assert report["mean"]["mu_law_8bit"]["si_sdr_db"] > 25  # 8-bit mu-law on 0.1-RMS audio: about 38 dB
    assert report["mean"]["telephone_300_3400"]["chroma_similarity"] > 0.8
    assert report["kbps"]["codec_first_codebook"] == 0.3  # 16 kHz / hop 320 (tiny test codec) x 6 bits
    assert (tmp_path / "spectrograms.png").stat().st_size > 10_000
    assert "| mu_law_8bit |" in (tmp_path / "report.md").read_text()
    assert set(report["melody"]) == set(report["mean"])
    assert report["melody"]["original"]["kept_within_50_cents"] == 1.0
    assert report["melody"]["original"]["missed_on_frame_grid"] is None  # nothing missed
    assert report["melody"]["mu_law_8bit"]["kept_within_50_cents"] == 1.0
    if transcription_unavailable_reason() is None:
        assert report["mean"]["mu_law_8bit"]["note_f1"] > 0.8  # the melody's notes survive 8-bit mu-law
        assert set(report["note_f1"]["pooled_f1"]) == set(report["mean"])
        assert report["note_f1"]["reference_notes"] > 0
    else:
        assert report["note_f1"].startswith("not computed") and "no-deps basic-pitch" in report["note_f1"]


def test_report_without_basic_pitch_says_why(synthetic_manifest, trained_run, tmp_path, monkeypatch):
    import simba_music_lab.codec.report as report_module

    monkeypatch.setattr(report_module, "transcription_unavailable_reason", lambda: "basic-pitch is not installed")
    output_dir, _ = trained_run
    report = report_module.codec_report(str(output_dir / "model"), str(synthetic_manifest), str(tmp_path), max_clips=1)
    assert report["note_f1"] == "not computed: basic-pitch is not installed"
    assert "note_f1" not in report["mean"]["codec_all_codebooks"]
    markdown = (tmp_path / "report.md").read_text()
    assert "| n/a |" in markdown and "Note F1 not computed: basic-pitch is not installed." in markdown


def test_sigterm_stops_with_a_checkpoint(synthetic_manifest, tmp_path):
    import os
    import signal
    import threading

    from simba_music.training.checkpoints import latest_checkpoint, load_trainer_state
    from simba_music_lab.codec.train import train_codec

    done = threading.Event()

    def terminate_once_training_logs():
        # Only once steps are being logged is the handler surely installed; before that SIGTERM would kill pytest.
        while not done.is_set():
            if (tmp_path / "train_log.jsonl").exists():
                os.kill(os.getpid(), signal.SIGTERM)
                return
            done.wait(0.05)

    watcher = threading.Thread(target=terminate_once_training_logs, daemon=True)
    watcher.start()
    try:
        state = train_codec(tiny_train_config(synthetic_manifest, tmp_path, max_steps=100000, checkpoint_steps=None))
    finally:
        done.set()
    assert 0 < state["step"] < 100000
    assert load_trainer_state(latest_checkpoint(tmp_path / "checkpoints"))["step"] == state["step"]
    assert (tmp_path / "model" / "model.safetensors").is_file()


def test_a_resume_that_would_build_another_codec_is_refused_before_anything_is_written(synthetic_manifest,
                                                                                        trained_run):
    """`codec train --resume` with a changed --hidden-size ended in a size-mismatch traceback after loading."""
    from simba_music_lab.codec.train import train_codec

    output_dir, _ = trained_run
    before = sorted((path.relative_to(output_dir), path.stat().st_mtime_ns) for path in output_dir.rglob("*"))
    hidden = tiny_train_config(synthetic_manifest, output_dir).hidden_size
    changed = tiny_train_config(synthetic_manifest, output_dir, hidden_size=2 * hidden, resume=True, max_steps=40)
    with pytest.raises(ValueError, match=f"--hidden-size {hidden} -> {2 * hidden}"):
        train_codec(changed)
    assert sorted((path.relative_to(output_dir), path.stat().st_mtime_ns) for path in output_dir.rglob("*")) == before
