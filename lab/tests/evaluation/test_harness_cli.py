import json

import numpy as np
import pytest
import torch

from simba_music_lab.cli import main
from simba_music_lab.evaluation import evaluate
from simba_music_lab.evaluation.harness import load_model
from simba_music_lab.evaluation.instrument import CHORALE_CODEC_DIR, PITCH_CODEC_DIR, PRETRAINED_DIR
from simba_music_lab.evaluation.prompts import DEMO_PROMPTS, read_prompts

from .conftest import build_tiny, click_track, progression, save_dataset, write_manifest

PROMPTS = [{"caption": "calm piano in a major key", "instrument": "violin", "key": "C major", "tempo_bpm": 90},
           {"caption": "fast jazz drums", "tempo_bpm": 120},
           {"caption": "slow folk guitar"}]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    directory = tmp_path_factory.mktemp("evaluation")
    model, processor = build_tiny()
    model.save_pretrained(directory / "model")
    processor.save_pretrained(directory / "model")
    save_dataset(directory / "tokens", [[1, 2, 3, 4, 5], [6, 7, 8]], ["calm piano", "fast drums"])
    (directory / "prompts.jsonl").write_text("".join(json.dumps(row) + "\n" for row in PROMPTS))
    (directory / "reference").mkdir()
    c_major = progression([[48, 60, 64, 67], [53, 60, 65, 69], [55, 59, 62, 67]], 1.0)
    clips = [(c_major, {"split": "test", "instrument": "violin", "key": "C major", "tempo_bpm": 60}),
             (click_track(120, 3.0), {"split": "test", "instrument": "harp", "key": "C major", "tempo_bpm": 120}),
             (0.5 * c_major, {"split": "test", "instrument": "violin", "key": "C major", "tempo_bpm": 60}),
             (c_major, {"split": "train", "instrument": "violin", "key": "C major", "tempo_bpm": 60})]
    write_manifest(directory / "reference", clips)
    return directory


def test_cli_writes_evaluation_json_and_plot(workspace, capsys):
    output = workspace / "out"
    status = main(["evaluate", str(workspace / "model"), "--prompts", str(workspace / "prompts.jsonl"),
                   "--output-dir", str(output), "--dataset", str(workspace / "tokens"), "--reference-manifest",
                   str(workspace / "reference" / "manifest.jsonl"), "--duration", "1.5", "--seed", "3",
                   "--guidance", "2", "--save-audio", "--quiet"])
    assert status == 0
    result = json.loads((output / "evaluation.json").read_text())
    assert {"settings", "model", "validation", "adherence", "distance", "reference_ceiling", "speed", "prompts",
            "estimator_reference", "plot"} <= set(result)
    assert (output / result["plot"]).stat().st_size > 1000
    assert result["validation"]["tokens"] == 8 and result["validation"]["perplexity"] > 1
    # these captions state no key, instrument or tempo column: nothing to swap, said as such
    assert result["validation"]["caption_swaps"]["key"] == {"clips": 0, "rise_nats_per_code": None,
                                                            "share_rising": None,
                                                            "rise_nats_per_code_first_second": None}
    assert result["settings"]["guidance_scale"] == 2.0 and result["settings"]["seed"] == 3
    rows = result["prompts"]
    assert [row["seed"] for row in rows] == [3, 4, 5]
    assert rows[0]["instrument_correct"] in (True, False) and rows[0]["key_score"] in (0.0, 0.5, 1.0)
    assert rows[1]["instrument_correct"] is None and rows[1]["tempo_correct"] in (True, False)
    assert rows[2]["key_score"] is None and rows[2]["tempo_correct"] is None
    assert all(row["audio_seconds"] == pytest.approx(1.52, abs=0.05) for row in rows)
    assert all((output / row["audio_file"]).is_file() for row in rows)
    adherence = result["adherence"]
    assert adherence["instrument"]["clips"] == 1 and adherence["tempo"]["clips"] == 2
    assert adherence["key"]["chance_exact"] == pytest.approx(1 / 24)
    assert adherence["tempo_band"]["clips"] == 2 and adherence["mode"]["clips"] == 1  # bands from the BPMs
    assert result["adherence_by_set"] == {"prompts": adherence}  # one set, named after the file
    distance = result["distance"]
    assert distance["reference_clips"] == 3 and distance["generated_clips"] == 3  # the train clip is not used
    assert distance["frechet_mel_distance"] > 0 and np.isfinite(distance["frechet_codec_latent_distance"])
    real = result["reference_ceiling"]["real"]
    assert real["key"]["exact_accuracy"] == pytest.approx(2 / 3)  # the two chord clips; the click track has no key
    assert real["tempo"]["clips"] == 3
    # the estimators the project did not write, on the same real clips (the two chord clips state their keys)
    assert real["independent"]["key_exact_accuracy"]["librosa"] == pytest.approx(2 / 3)
    assert real["independent"]["distinct_keys_heard"]["librosa"] >= 2
    assert set(rows[0]["independent"]["tempo_bpm"]) >= {"librosa"}
    assert adherence["independent"]["tempo_accuracy"]["librosa"] in (0.0, 0.5, 1.0)  # over the 2 stating a tempo
    assert result["reference_ceiling"]["codec_round_trip"]["instrument"]["clips"] == 3
    speed = result["speed"]
    assert speed["real_time_factor"] > 0 and speed["torch_threads"] == 1 and speed["device"] == "cpu"
    assert result["estimator_reference"]["instrument_classifier"]["accuracy"] > 0.9
    headline = json.loads(capsys.readouterr().out)
    assert headline["adherence"] == adherence


def test_evaluate_without_dataset_or_reference(workspace):
    result = evaluate(str(workspace / "model"), PROMPTS[:2], duration=1.0, progress=False)
    assert result["validation"] is None and result["distance"] is None and result["reference_ceiling"] is None
    assert len(result["prompts"]) == 2 and "plot" not in result
    assert result["settings"]["instrument_classifier"] == str(PRETRAINED_DIR)  # a tiny codec is not a shipped one
    chosen = evaluate(str(workspace / "model"), PROMPTS[:1], duration=1.0, progress=False,
                      instrument_classifier=str(CHORALE_CODEC_DIR))
    assert chosen["settings"]["instrument_classifier"] == str(CHORALE_CODEC_DIR)


def test_a_dataset_encoded_with_another_codec_is_refused_before_any_work(workspace, tmp_path):
    """Another codec's tokens read as noise to the decoder: cross-entropy 7.25 against 4.48 (uniform 6.93) with the
    matching codec, on the shipped demo. The dataset's codec record is checked once the model is loaded."""
    from simba_music.modeling.audio_codec import AudioCodec
    from simba_music.testing_utils import tiny_random_codec
    from simba_music.training.preprocess import preprocess

    rate = 16000
    import soundfile

    soundfile.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * 1.2)) / rate)).astype(
        np.float32), rate)
    preprocess([{"audio": str(tmp_path / "a.wav"), "caption": "piano"}], AudioCodec(tiny_random_codec(1)),
               str(tmp_path / "data"), segment_seconds=1.0, min_seconds=0.5, progress=False)
    with pytest.raises(ValueError, match="--dataset: .* was encoded with the codec .* but the model uses"):
        evaluate(str(workspace / "model"), PROMPTS[:1], dataset=str(tmp_path / "data"), output_dir=str(tmp_path / "o"),
                 duration=1.0, progress=False)
    assert not (tmp_path / "o").exists()  # refused before anything was written


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_evaluate_on_gpu(workspace):
    result = evaluate(str(workspace / "model"), PROMPTS[:2], duration=1.0, device="cuda", progress=False,
                      dataset=str(workspace / "tokens"),
                      reference_manifest=str(workspace / "reference" / "manifest.jsonl"))
    on_cpu = evaluate(str(workspace / "model"), PROMPTS[:2], duration=1.0, progress=False,
                      dataset=str(workspace / "tokens"))
    assert result["speed"]["device"].startswith("cuda") and result["settings"]["gpu"]
    assert result["validation"]["cross_entropy"] == pytest.approx(on_cpu["validation"]["cross_entropy"], rel=1e-4)
    assert np.isfinite(result["distance"]["frechet_codec_latent_distance"])


def test_the_shipped_demo_is_evaluated_by_name_with_the_classifier_of_its_codec():
    from simba_music.shipped import demo_model_path

    result = evaluate("simba-music-demo", PROMPTS[:1], duration=0.2, codec_round_trip=False, progress=False)
    assert result["settings"]["instrument_classifier"] == str(PITCH_CODEC_DIR)  # its codec is the shipped one
    assert result["model"]["parameters"] == sum(p.numel() for p in load_model(demo_model_path())[0].parameters())


def test_missing_model_directory(tmp_path):
    with pytest.raises(ValueError, match="model_dir: no such directory"):
        evaluate(str(tmp_path / "missing"), PROMPTS[:1])


def test_missing_prompts_file(workspace, capsys):
    with pytest.raises(ValueError, match="prompts: no such file"):
        evaluate(str(workspace / "model"), str(workspace / "nope.jsonl"))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(workspace / "model"), "--prompts", str(workspace / "nope.jsonl"), "--quiet",
              "--output-dir", str(workspace / "unused")])
    assert exit_info.value.code == 2
    assert "prompts: no such file" in capsys.readouterr().err
    assert not (workspace / "unused").exists()


def test_prompt_line_without_caption(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"caption": "piano"}\n\n{"instrument": "violin", "key": "C major"}\n')
    with pytest.raises(ValueError, match=r"prompts.jsonl line 3: needs a non-empty string 'caption'"):
        read_prompts(str(path))
    path.write_text('{"caption": "piano", "key": "H dorian"}\n')
    with pytest.raises(ValueError, match=r"line 1: key"):
        read_prompts(str(path))
    path.write_text('{"caption": "piano", "tempo_bpm": -3}\n')
    with pytest.raises(ValueError, match=r"line 1: 'tempo_bpm'"):
        read_prompts(str(path))


def test_unknown_instrument_is_refused_before_loading_the_model(tmp_path):
    with pytest.raises(ValueError, match=r"prompts\[0\]: instrument 'kazoo'"):
        evaluate(str(tmp_path / "no-model"), [{"caption": "kazoo solo", "instrument": "kazoo"}])


def test_demo_prompts_are_valid_corpus_style_captions():
    rows = read_prompts(str(DEMO_PROMPTS))
    assert len(rows) == 32
    assert len({row["instrument"] for row in rows}) == 16
    assert all(row["key"] in row["caption"] and f"{row['tempo_bpm']} BPM" in row["caption"] for row in rows)
