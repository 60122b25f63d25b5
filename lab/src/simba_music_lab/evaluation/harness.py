"""`evaluate()`: the offline evaluation of a saved text-to-music model, as one JSON-ready dict (and files).

1. Held-out cross-entropy / perplexity of the decoder on a preprocessed dataset split (`perplexity.py`), and its
   rise when the captions' key, instrument or tempo is swapped: whether the decoder listens to each
   (`caption_swaps.py`).
2. Prompt adherence: generate each prompt, then check the instrument (the shipped classifier), the key (chroma +
   key templates) and the tempo (onset autocorrelation) against the prompt's expectations.
3. A Frechet distance between generated and real clips on mel statistics and on the codec's latent (`distance.py`).
4. Real-time factor of generation (wall clock / audio seconds) on the device and threads used.
With real reference clips, the same estimators also run on the real clips and on their codec round trip: the ceiling
that generated audio can reach through this codec.
"""

from __future__ import annotations

import collections
import json
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from simba_music.audio import write_wav
from simba_music.captions.vocabulary import MODES, TEMPO_BANDS, tempo_band
from simba_music.io_utils import atomic_path, check_output_directory, claim_output_directory
from simba_music.shipped import resolve_model

from .caption_swaps import CaptionSwaps
from .distance import codec_latent_embedding, frechet_distance, reconstruct_with_codec
from .estimator_check import SHIPPED_RESULTS
from .features import ANALYSIS_RATE, conform, load_audio, mel_statistics
from .independent import independent_adherence, independent_estimates, summarise_independent
from .instrument import InstrumentClassifier, default_classifier_dir
from .key import KEY_CHANCE, estimate_key, key_score, parse_key
from .perplexity import CrossEntropy, score_split
from .prompts import DEMO_PROMPTS, PROMPT_SETS, read_prompts
from .tempo import METRICAL_FACTORS, TOLERANCE, estimate_tempo, tempo_correct

RESULT_FILE, PLOT_FILE = "evaluation.json", "evaluation.png"


def load_model(model_dir: str, device: str | None = None):
    """A saved SimbaMusicForConditionalGeneration and its processor, in eval mode on `device`; "simba-music-demo"
    names the shipped demo, as in `simba-music generate --model`."""
    from transformers import AutoModelForTextToWaveform, AutoProcessor

    model_dir = resolve_model(model_dir)
    local = Path(model_dir).is_absolute() or str(model_dir).startswith(".") or Path(model_dir).exists()
    if local and not Path(model_dir).is_dir():
        raise ValueError(f"model_dir: no such directory {str(model_dir)!r}")
    try:
        model = AutoModelForTextToWaveform.from_pretrained(str(model_dir)).eval()
        processor = AutoProcessor.from_pretrained(str(model_dir))
    except (OSError, ValueError) as error:
        raise ValueError(f"model_dir: cannot load a text-to-music model and processor from {str(model_dir)!r}: "
                         f"{error}") from error
    if device is not None:
        model.to(device)
    return model, processor


def analyse(audio, rate: int, classifier: InstrumentClassifier) -> dict:
    """What the estimators hear in one clip (audio [samples] or [channels, samples] at `rate`)."""
    mono = conform(audio, rate)
    label, probabilities = classifier.predict(mono, ANALYSIS_RATE)
    key, _ = estimate_key(mono)
    return {"predicted_instrument": label, "instrument_probability": round(probabilities[label], 4),
            "estimated_key": key, "estimated_tempo_bpm": round(estimate_tempo(mono), 2),
            "independent": independent_estimates(mono, ANALYSIS_RATE), "mel_statistics": mel_statistics(mono)}


def expected_mode(expected: dict) -> str | None:
    """The mode a prompt states: its key's, else its `mode` (from a mood or "a minor key"), else None."""
    return parse_key(expected["key"])[1] if expected.get("key") else expected.get("mode")


def expected_band(expected: dict) -> str | None:
    """The tempo band a prompt states: its `tempo_band`, else the band of its `tempo_bpm`, else None."""
    return expected.get("tempo_band") or (tempo_band(expected["tempo_bpm"]) if expected.get("tempo_bpm") else None)


def adherence(found: dict, expected: dict) -> dict:
    """Per-clip scores against the expected `instrument`, `key`, mode, `tempo_bpm` and tempo band (None where the
    prompt states none). The band is the estimate's own, without octave folding: a slow/fast call must be right."""
    mode, band, tempo = expected_mode(expected), expected_band(expected), found["estimated_tempo_bpm"]
    return {"instrument_correct": (found["predicted_instrument"] == expected["instrument"]
                                   if expected.get("instrument") else None),
            "key_score": key_score(found["estimated_key"], expected["key"]) if expected.get("key") else None,
            "mode_correct": parse_key(found["estimated_key"])[1] == mode if mode else None,
            "tempo_correct": (tempo_correct(tempo, expected["tempo_bpm"]) if expected.get("tempo_bpm") else None),
            "tempo_ratio": (round(tempo / expected["tempo_bpm"], 4) if expected.get("tempo_bpm") else None),
            "tempo_band_correct": (tempo > 0 and tempo_band(tempo) == band) if band else None,
            "independent_adherence": independent_adherence(found.get("independent"), expected)}


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else None


def summarise(rows: list[dict], labels: int) -> dict:
    """Accuracies over the rows that state each expectation, with the chance level of each (1 / classes)."""
    def stated(name):
        return [r[name] for r in rows if r.get(name) is not None]

    keys = stated("key_score")
    heard = collections.Counter(r["estimated_key"] for r in rows if r.get("estimated_key"))
    metrical = [tempo_correct(r["tempo_ratio"], 1.0, factors=METRICAL_FACTORS) for r in rows
                if r["tempo_ratio"] is not None]
    return {
        "instrument": {"accuracy": _mean(stated("instrument_correct")), "clips": len(stated("instrument_correct")),
                       "chance": 1.0 / labels},
        "key": {"exact_accuracy": _mean(k == 1.0 for k in keys), "weighted_score": _mean(keys), "clips": len(keys),
                "chance_exact": KEY_CHANCE,
                "scoring": "1 exact; 0.5 relative major/minor or a fifth away in the same mode; else 0",
                # A model (or codec) that plays one key whatever it is asked scores by luck: how spread its keys are.
                "distinct_keys_heard": len(heard), "most_common_key": heard.most_common(1)[0][0] if heard else None,
                "most_common_key_share": heard.most_common(1)[0][1] / sum(heard.values()) if heard else None},
        "mode": {"accuracy": _mean(stated("mode_correct")), "clips": len(stated("mode_correct")),
                 "chance": 1.0 / len(MODES), "rule": "the estimated key's mode against the stated key's or mood's"},
        "tempo": {"accuracy": _mean(stated("tempo_correct")), "clips": len(stated("tempo_correct")),
                  "rule": f"within {TOLERANCE:.0%} of the expected tempo, or of 2x or 0.5x of it",
                  "accuracy_allowing_3_2": _mean(metrical)},
        "tempo_band": {"accuracy": _mean(stated("tempo_band_correct")), "clips": len(stated("tempo_band_correct")),
                       "chance": 1.0 / len(TEMPO_BANDS),
                       "rule": "the estimated tempo in the stated band: " + ", ".join(
                           f"{name} [{low:g}, {high:g})" for name, (low, high) in TEMPO_BANDS.items())},
        "independent": summarise_independent(rows),
    }


def summarise_by_set(rows: list[dict], labels: int) -> dict:
    """`summarise` per prompt set (templates, freeform, ...), in the order the sets first appear."""
    names = list(dict.fromkeys(row.get("prompt_set", "prompts") for row in rows))
    return {name: summarise([row for row in rows if row.get("prompt_set", "prompts") == name], labels)
            for name in names}


def _check_instruments(prompts: list[dict], classifier: InstrumentClassifier) -> None:
    for index, prompt in enumerate(prompts):
        if prompt.get("instrument") and prompt["instrument"] not in classifier.labels:
            raise ValueError(f"prompts[{index}]: instrument {prompt['instrument']!r} is not one the classifier knows "
                             f"({', '.join(classifier.labels)})")


def _reference_rows(manifest: str | None, split: str, clips: int, seed: int) -> list[dict]:
    if manifest is None:
        return []
    from simba_music.training.manifest import read_manifest

    if not Path(manifest).is_file():
        raise ValueError(f"reference_manifest: no such file {str(manifest)!r}")
    rows = read_manifest(manifest, split)
    if len(rows) < 2:
        raise ValueError(f"reference_manifest: split {split!r} has {len(rows)} clips; need at least 2")
    return sorted(random.Random(seed).sample(rows, min(clips, len(rows))), key=lambda row: row["audio"])


def _timed_generate(model, processor, caption: str, duration: float, seed: int, guidance):
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    output = model.generate(**processor([caption]), duration=duration, seed=seed, guidance_scale=guidance,
                            **model.caption_steering([caption]), progress_bar=False)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return output.audio[0].float().cpu().numpy(), time.perf_counter() - start


def _generate_all(model, processor, prompts, classifier, duration, seed, guidance, audio_dir, progress):
    from tqdm.auto import tqdm

    rate = model.config.sampling_rate
    rows, mels, latents = [], [], []
    for index, prompt in enumerate(tqdm(prompts, desc="prompts", unit="prompt", disable=not progress)):
        audio, seconds = _timed_generate(model, processor, prompt["caption"], duration, seed + index, guidance)
        found = analyse(audio, rate, classifier)
        mels.append(found.pop("mel_statistics"))
        latents.append(codec_latent_embedding(model.audio_encoder, audio, rate))
        audio_seconds = audio.shape[-1] / rate
        row = {"index": index, **prompt, "seed": seed + index, **found, **adherence(found, prompt),
               "generation_seconds": round(seconds, 4), "audio_seconds": audio_seconds,
               "real_time_factor": seconds / audio_seconds}
        if audio_dir is not None:
            row["audio_file"] = f"{audio_dir.name}/prompt-{index:03d}.wav"
            write_wav(audio_dir / f"prompt-{index:03d}.wav", audio.T, rate)
        rows.append(row)
    return rows, np.stack(mels), np.stack(latents)


def _reference(model, rows, classifier, progress, codec_round_trip: bool):
    """Embeddings of real clips, and adherence of the estimators on them (and on their codec round trip)."""
    from tqdm.auto import tqdm

    rate = model.config.sampling_rate
    mels, latents, real, round_trip, round_trip_mels = [], [], [], [], []
    for row in tqdm(rows, desc="reference", unit="clip", disable=not progress):
        audio = load_audio(row["audio"], rate)
        found = analyse(audio, rate, classifier)
        mels.append(found.pop("mel_statistics"))
        latents.append(codec_latent_embedding(model.audio_encoder, audio, rate))
        real.append({**adherence(found, row), "independent": found["independent"]})
        if codec_round_trip:
            found = analyse(reconstruct_with_codec(model.codec, audio), rate, classifier)
            round_trip_mels.append(found.pop("mel_statistics"))
            round_trip.append({**adherence(found, row), "independent": found["independent"]})
    return np.stack(mels), np.stack(latents), real, round_trip, round_trip_mels


def _estimator_reference(classifier: InstrumentClassifier) -> dict:
    test = classifier.metrics.get("test", {})
    reference = {"instrument_classifier": {key: test.get(key) for key in
                                           ("accuracy", "clips", "chance_uniform", "majority_class_rate")}}
    if SHIPPED_RESULTS.is_file():
        shipped = json.loads(SHIPPED_RESULTS.read_text())
        reference["key_and_tempo"] = {key: shipped.get(key) for key in ("split", "clips", "key", "tempo")}
    return reference


def evaluate(model_dir: str, prompts=DEMO_PROMPTS, *, output_dir: str | None = None, dataset: str | None = None,
             dataset_split: str | None = None, batch_size: int = 8, max_examples: int | None = None,
             reference_manifest: str | None = None, reference_split: str = "test", reference_clips: int = 64,
             codec_round_trip: bool = True, duration: float = 10.0, seed: int = 0, guidance: float | None = None,
             instrument_classifier: str | None = None, save_audio: bool = False, plot: bool = True,
             device: str | None = None, progress: bool = True, overwrite: bool = False) -> dict:
    """Evaluate the model saved in `model_dir`; returns the report, also written to `output_dir/evaluation.json`
    (with `evaluation.png`, and the generated WAVs under `audio/` with `save_audio`) when `output_dir` is given.

    `prompts`: a shipped set ("templates", "freeform", or "all": both, reported per set in `adherence_by_set`), a
    JSONL path or a list of prompt dicts (see `prompts.py`); `dataset`: a `simba-music preprocess`
    folder for cross-entropy; `reference_manifest`: a corpus manifest whose `reference_split` clips (at most
    `reference_clips`, drawn with `seed`) are the real side of the Frechet distances; `guidance`: None keeps the
    model's generation config; `instrument_classifier`: a folder (default: the shipped classifier trained through the
    model's codec when that codec is a shipped one, else the shipped clean-render classifier)."""
    prompt_rows = read_prompts(prompts)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not duration > 0:
        raise ValueError(f"duration: must be > 0 seconds, got {duration!r}")
    if reference_clips < 2:
        raise ValueError(f"reference_clips: must be >= 2, got {reference_clips}")
    reference_rows = _reference_rows(reference_manifest, reference_split, reference_clips, seed)
    classifier = InstrumentClassifier.load(instrument_classifier)
    _check_instruments(prompt_rows, classifier)
    output = None
    if output_dir is not None:
        named = isinstance(prompts, str) and prompts in (*PROMPT_SETS, "all")
        inputs = (model_dir, prompts if isinstance(prompts, (str, Path)) and not named else None, dataset,
                  reference_manifest)
        check_output_directory(output_dir, "--output-dir", overwrite, inputs, writer="simba-music evaluate")
    model, processor = load_model(model_dir, device)
    if dataset is not None:  # another codec's tokens read as noise to this decoder (cross-entropy above uniform)
        from simba_music.training.codec_record import check_dataset_codec

        check_dataset_codec(dataset, model)
    if instrument_classifier is None:  # the classifier that hears the model's codec as it sounds, where one ships
        instrument_classifier = default_classifier_dir(model.audio_encoder)
        classifier = InstrumentClassifier.load(instrument_classifier)
        _check_instruments(prompt_rows, classifier)
    if output_dir is not None:  # written only once the model has loaded
        output = claim_output_directory(output_dir, "--output-dir", "simba-music evaluate", overwrite)

    settings = {"model_dir": str(model_dir), "prompts": str(prompts) if isinstance(prompts, (str, Path)) else "list",
                "duration_s": duration, "seed": seed,
                "guidance_scale": guidance if guidance is not None else model.generation_config.guidance_scale,
                "sampling": {name: getattr(model.generation_config, name, None)
                             for name in ("do_sample", "temperature", "top_k", "top_p")},
                "instrument_classifier": str(instrument_classifier),
                "key_strength": getattr(model.generation_config, "key_strength", None),
                "tempo_strength": getattr(model.generation_config, "tempo_strength", None),
                "dataset": dataset, "reference_manifest": reference_manifest, "reference_split": reference_split,
                "device": str(model.device), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                "cpu": platform.processor() or platform.machine(),
                "gpu": torch.cuda.get_device_name(model.device) if model.device.type == "cuda" else None}
    result = {"settings": settings,
              "model": {"sampling_rate": model.config.sampling_rate, "frame_rate": model.config.frame_rate,
                        "num_codebooks": model.config.decoder.num_codebooks,
                        "parameters": sum(p.numel() for p in model.parameters())},
              "estimator_reference": _estimator_reference(classifier)}
    result["validation"] = None
    if dataset is not None:
        cross_entropy, swaps = CrossEntropy(model), CaptionSwaps(model, processor)
        split, count = score_split(model, processor, dataset, [cross_entropy, swaps], dataset_split, batch_size,
                                   max_examples, progress)
        result["validation"] = {"split": split, "examples": count, **cross_entropy.result(split),
                                "caption_swaps": swaps.result()}

    audio_dir = output / "audio" if output is not None and save_audio else None
    if audio_dir is not None:
        audio_dir.mkdir(exist_ok=True)
    rows, generated_mels, generated_latents = _generate_all(model, processor, prompt_rows, classifier, duration, seed,
                                                            guidance, audio_dir, progress)
    result["adherence"] = summarise(rows, len(classifier.labels))
    result["adherence_by_set"] = summarise_by_set(rows, len(classifier.labels))
    generation, audio_seconds = sum(r["generation_seconds"] for r in rows), sum(r["audio_seconds"] for r in rows)
    result["speed"] = {"real_time_factor": generation / audio_seconds, "generation_seconds": generation,
                       "audio_seconds": audio_seconds,
                       "median_prompt_real_time_factor": float(np.median([r["real_time_factor"] for r in rows])),
                       "device": settings["device"], "torch_threads": settings["torch_threads"],
                       "note": "wall clock of generate() per prompt (batch 1), codec decoding included"}

    result["distance"] = result["reference_ceiling"] = None
    if reference_rows:
        mels, latents, real, round_trip, round_trip_mels = _reference(model, reference_rows, classifier, progress,
                                                                     codec_round_trip)
        enough = len(rows) >= 2
        result["distance"] = {
            "frechet_mel_distance": frechet_distance(generated_mels, mels) if enough else None,
            "frechet_codec_latent_distance": frechet_distance(generated_latents, latents) if enough else None,
            "frechet_mel_distance_codec_round_trip": (frechet_distance(np.stack(round_trip_mels), mels)
                                                      if round_trip_mels else None),
            "generated_clips": len(rows), "reference_clips": len(reference_rows),
            "embeddings": {"frechet_mel_distance": "mean and std over time of 64 log-mel bands at 16 kHz (128-d)",
                           "frechet_codec_latent_distance": "time-mean of the model's codec encoder output "
                                                            f"({latents.shape[1]}-d)"},
            "note": "not FAD: no VGGish/CLAP embedding is available offline; the round-trip value compares the "
                    "reference clips with their own codec reconstruction (a floor for this codec)"}
        labels = len(classifier.labels)
        result["reference_ceiling"] = {"real": summarise(real, labels),
                                       "codec_round_trip": summarise(round_trip, labels) if round_trip else None}
    result["prompts"] = rows
    if output is not None:
        if plot:
            from .plots import plot_evaluation

            plot_evaluation(result, output / PLOT_FILE, classifier.labels)
            result["plot"] = PLOT_FILE
        with atomic_path(output / RESULT_FILE) as temporary:
            temporary.write_text(json.dumps(result, indent=1) + "\n")
    return result


__all__ = ["adherence", "analyse", "evaluate", "expected_band", "expected_mode", "load_model", "summarise",
           "summarise_by_set"]
