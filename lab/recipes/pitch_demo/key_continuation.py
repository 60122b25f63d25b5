"""Does the decoder hold a key it hears? Generation primed with the opening of validation clips, one per key.

    python lab/recipes/pitch_demo/key_continuation.py MODEL DATA/corpus/manifest.jsonl [--prime-seconds 2]

A decoder that cannot continue music in the key it has just heard cannot follow a key named in a caption either;
this separates the two. For each of the 24 keys a validation clip rendered in it (one that opens its piece where
there is one) is cut after its leading silence into a primer (`--prime-seconds`) and the `--seconds` after it. Each
key estimator the project did not write (librosa's chroma-CQT with Krumhansl-Kessler profiles; essentia's
KeyExtractor where installed) judges, against the rendered key, in layers so that no one hides another:
- `original`: the clip's own next seconds (the estimator's ceiling on these renders; up to `--seconds`, fewer where
  the clip ends sooner: each clip's `original_seconds` says how many);
- `round_trip`: the same seconds through the model's codec, on the codebooks the decoder models (what codes keep);
- `continuation`: the decoder's continuation of the primer under the clip's own caption;
- `continuation_holds`: the continuation's first and second halves in one key (whether it holds any key at all).
Prints one JSON object: the counts per estimator, how many distinct keys the continuations fall in, and every clip's
keys.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch

LAYERS = ("original", "round_trip", "continuation")


def choose_clips(rows: list[dict], seed: int) -> list[dict]:
    """One validation clip per key (sorted by key name), preferring clips that open their piece."""
    by_key = {}
    for row in rows:
        if row["split"] == "validation":
            by_key.setdefault(row["key"], []).append(row)
    rng = random.Random(seed)
    chosen = []
    for key in sorted(by_key):
        openings = [row for row in by_key[key] if float(row.get("start_seconds", 0.0)) == 0.0]
        chosen.append(rng.choice(sorted(openings or by_key[key], key=lambda row: row["clip_id"])))
    return chosen


def summarise(clips: list[dict], estimators: list[str]) -> dict:
    """Counts over `clips` (each {"key": (tonic, mode), estimator: {layer: (tonic, mode), "first_half": ...,
    "second_half": ...}}): how many keys each layer names right, and how many continuations hold one key."""
    result = {"clips": len(clips)}
    for name in estimators:
        found = [clip[name] for clip in clips]
        counts = {layer: sum(tuple(keys[layer]) == tuple(clip["key"]) for keys, clip in zip(found, clips, strict=True))
                  for layer in LAYERS}
        counts["continuation_holds"] = sum(tuple(keys["first_half"]) == tuple(keys["second_half"]) for keys in found)
        counts["distinct_continuation_keys"] = len({tuple(keys["continuation"]) for keys in found})
        result[name] = counts
    return result


def _cut(audio: np.ndarray, rate: int, hop: int, prime_seconds: float, seconds: float, clip: str):
    """(primer, the seconds after it) from the first audible sample; the primer a whole number of codec frames, so
    that the continuation starts on a frame boundary."""
    from simba_music_lab.codec.key_round_trip import first_audible_sample

    start = first_audible_sample(audio)
    primer_end = start + int(prime_seconds * rate) // hop * hop
    after = audio[primer_end:primer_end + int(seconds * rate)]
    if len(after) < rate:
        raise ValueError(f"--prime-seconds: clip {clip} has {(len(audio) - start) / rate:.1f} s of audio; "
                         f"{prime_seconds} s of primer leaves less than 1 s to compare")
    return audio[start:primer_end], after


@torch.no_grad()
def run(model_dir: str, manifest: str, prime_seconds: float, seconds: float, seed: int, **sampling) -> dict:
    import soundfile

    from simba_music_lab.codec.key_round_trip import available_estimators
    from simba_music_lab.codec.report import reconstruct
    from simba_music_lab.evaluation.harness import load_model
    from simba_music_lab.evaluation.key import parse_key

    model, processor = load_model(model_dir, "cpu")
    rate = model.config.sampling_rate
    estimators = available_estimators()
    with open(manifest) as handle:
        clips = choose_clips([json.loads(line) for line in handle], seed)
    results = []
    for index, row in enumerate(clips):
        audio, audio_rate = soundfile.read(Path(manifest).parent / row["audio"], dtype="float32", always_2d=True)
        if audio_rate != rate:
            raise ValueError(f"manifest: {row['audio']} is at {audio_rate} Hz; the model's codec takes {rate} Hz")
        primer, original = _cut(audio.mean(1), rate, model.codec.hop_length, prime_seconds, seconds, row["clip_id"])
        round_trip = reconstruct(model.codec, original)  # the composite's codec: the decoder's codebooks
        output = model.generate(**processor([row["caption"]]), audio_prompt=torch.from_numpy(primer)[None],
                                duration=seconds, seed=seed + index, progress_bar=False, **sampling)
        continuation = output.audio[0].mean(0).float().numpy()[len(primer):]
        half = len(continuation) // 2
        layers = {"original": original, "round_trip": round_trip, "continuation": continuation,
                  "first_half": continuation[:half], "second_half": continuation[half:]}
        clip = {"clip_id": row["clip_id"], "key": parse_key(row["key"]), "original_seconds": len(original) / rate}
        for name, estimate in estimators.items():
            clip[name] = {layer: estimate(audio, rate) for layer, audio in layers.items()}
        results.append(clip)
    return {**summarise(results, list(estimators)), "prime_seconds": prime_seconds, "seconds": seconds,
            "sampling": sampling, "per_clip": results}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("manifest", help="a corpus manifest.jsonl with a validation split (audio paths relative to it)")
    parser.add_argument("--prime-seconds", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the continuation (and of the original "
                        "and round-trip excerpts it is compared with)")
    for name, kind in (("guidance-scale", float), ("temperature", float), ("top-k", int)):
        parser.add_argument(f"--{name}", type=kind, help="default: the model's generation config")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("prime_seconds", "seconds"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')}: must be > 0, got {getattr(args, name)}")
    torch.set_num_threads(1)
    sampling = {name: getattr(args, name) for name in ("guidance_scale", "temperature", "top_k")
                if getattr(args, name) is not None}
    print(json.dumps(run(args.model, args.manifest, args.prime_seconds, args.seconds, args.seed, **sampling)))


if __name__ == "__main__":
    main()
