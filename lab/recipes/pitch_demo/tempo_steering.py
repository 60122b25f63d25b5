"""Does tempo steering make the decoder's music follow the asked tempo, and at what cost to key and instrument?

    python lab/recipes/pitch_demo/tempo_steering.py MODEL --settings 0:1:2 2:1:2 [--prompts keys | --manifest M]

Each setting is TEMPO_STRENGTH:HOLD_SHARE:KEY_STRENGTH (`modeling/tempo_steering.py`, `modeling/key_steering.py`).
For each, every prompt is generated for 10 s, steered to the key and tempo the prompt states, and judged by the
estimators the project did not write (tempo: librosa's `feature.tempo`, essentia's `PercivalBpmEstimator` where
installed; key: librosa's chroma-CQT with Krumhansl-Kessler profiles, essentia's `KeyExtractor`) and by the
evaluation's own (`ours`), with the shipped instrument classifier, and the share of frames that repeat the previous
code. A tempo counts within 8 % of the asked one, or of twice or half of it (`evaluation/tempo.py`).

Prompts: a shipped set (`--prompts keys`: the 24 key prompts, which the docs report), or `--manifest` (a corpus
manifest: `--clips` captions of its `--split`, drawn with `--seed`, which tuning uses so that the reported prompts
stay unseen). With `--manifest`, each tempo estimator is first calibrated on the real clips behind those captions,
whose tempo is known. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch


def parse_setting(text: str) -> dict:
    try:
        tempo, hold, key = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--settings: expected TEMPO_STRENGTH:HOLD_SHARE:KEY_STRENGTH, got {text!r}") from None
    return {"tempo_strength": tempo, "hold_share": hold, "key_strength": key}


def manifest_prompts(manifest: str, split: str, clips: int, seed: int) -> list[dict]:
    """`clips` rows of `split` that state a key and a tempo, with `audio` made absolute."""
    folder = Path(manifest).parent
    rows = [json.loads(line) for line in Path(manifest).read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row.get("split") == split and row.get("key") and row.get("tempo_bpm")]
    if len(rows) < clips:
        raise ValueError(f"--manifest: split {split!r} has {len(rows)} clips stating a key and a tempo; need {clips}")
    return [{**row, "audio": str(folder / row["audio"])} for row in random.Random(seed).sample(rows, clips)]


def judge(audio: np.ndarray, rate: int, prompt: dict) -> dict:
    """Per estimator (the independent ones, then ours): tempo within the tolerance, key exact."""
    from simba_music_lab.evaluation.independent import independent_adherence, independent_estimates
    from simba_music_lab.evaluation.key import estimate_key
    from simba_music_lab.evaluation.tempo import estimate_tempo

    estimates = independent_estimates(audio, rate)
    estimates["tempo_bpm"]["ours"], estimates["key"]["ours"] = estimate_tempo(audio, rate), estimate_key(audio, rate)[0]
    verdicts = independent_adherence(estimates, prompt)
    return {**{f"tempo_{name}": correct for name, correct in verdicts["tempo_correct"].items()},
            **{f"key_{name}": exact for name, exact in verdicts["key_exact"].items()}}


def totals(rows: list[dict]) -> dict:
    return {name: int(sum(row[name] for row in rows)) for name in rows[0]}


@torch.no_grad()
def run(model_dir: str, settings: list[dict], prompts: list[dict], seconds: float, seed: int) -> dict:
    import simba_music.modeling.tempo_steering as tempo_steering
    from simba_music_lab.evaluation.features import ANALYSIS_RATE, conform, load_audio
    from simba_music_lab.evaluation.harness import load_model
    from simba_music_lab.evaluation.instrument import InstrumentClassifier, default_classifier_dir

    model, processor = load_model(model_dir, "cpu")
    rate = model.config.sampling_rate
    classifier = InstrumentClassifier.load(default_classifier_dir(model.audio_encoder))
    result = {"prompts": len(prompts), "seconds": seconds, "by_setting": {}}
    if all("audio" in prompt for prompt in prompts):  # the estimators on the real clips, whose answers are known
        real = [judge(load_audio(prompt["audio"], rate), rate, prompt) for prompt in prompts]
        result["estimators_on_real_clips"] = totals(real)
    for setting in settings:
        tempo_steering.HOLD_SHARE = setting["hold_share"]
        rows = []
        for index, prompt in enumerate(prompts):
            output = model.generate(**processor([prompt["caption"]]), duration=seconds, seed=seed + index,
                                    key=prompt["key"], key_strength=setting["key_strength"],
                                    tempo_bpm=prompt["tempo_bpm"], tempo_strength=setting["tempo_strength"],
                                    progress_bar=False)
            audio = output.audio[0].mean(0).float().numpy()
            codes = output.sequences[0, 0].numpy()
            label, _ = classifier.predict(conform(audio, rate), ANALYSIS_RATE)
            rows.append({**judge(audio, rate, prompt),
                         "instrument": label == prompt["instrument"],
                         "repeated_frames": float(np.mean(codes[1:] == codes[:-1]))})
        summary = totals([{name: value for name, value in row.items() if name != "repeated_frames"} for row in rows])
        summary["repeated_frames"] = round(float(np.mean([row["repeated_frames"] for row in rows])), 3)
        result["by_setting"][":".join(f"{value:g}" for value in setting.values())] = summary
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--settings", type=parse_setting, nargs="+", default=[parse_setting("0:1:2"),
                                                                                parse_setting("2:1:2")])
    parser.add_argument("--prompts", default="keys", help="a shipped prompt set or a JSONL of prompts")
    parser.add_argument("--manifest", default=None, help="draw the prompts from this corpus manifest instead")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0, help="prompt i uses seed + i; the manifest draw uses seed")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds: must be > 0, got {args.seconds}")
    if args.clips < 1:
        parser.error(f"--clips: must be >= 1, got {args.clips}")
    if args.manifest is not None:
        prompts = manifest_prompts(args.manifest, args.split, args.clips, args.seed)
    else:
        from simba_music_lab.evaluation.prompts import read_prompts

        prompts = read_prompts(args.prompts)
    torch.set_num_threads(1)
    print(json.dumps(run(args.model, args.settings, prompts, args.seconds, args.seed)))


if __name__ == "__main__":
    main()
