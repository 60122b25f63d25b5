"""Does key steering make the decoder's music follow the asked key, and what does it do to the codes?

    python lab/recipes/pitch_demo/key_steering.py MODEL [--strengths 0 2 4 8] [--tokens DATA/tokens]

For each strength, the 24 key prompts of `simba-music-lab evaluate --prompts keys` (every key once) are generated
for 10 s with `key=` the prompt's key and judged against it by each key estimator the project did not write
(librosa's chroma-CQT with Krumhansl-Kessler profiles; essentia's KeyExtractor where installed) and by the
evaluation's own (`ours`). Beside the counts: how many distinct keys the outputs fall in (per estimator), and how the
codes move, which steering could freeze: the share of frames that repeat the previous code and the distinct codes
per clip, with the same figures of real clips (`--tokens`, a preprocessed dataset's validation split) beside them.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch


def code_motion(rows: list[np.ndarray]) -> dict:
    """Mean over clips of the share of frames repeating the previous code, and of the distinct codes per clip."""
    repeats = [float(np.mean(row[1:] == row[:-1])) for row in rows if len(row) > 1]
    return {"repeated_frames": float(np.mean(repeats)), "distinct_codes": float(np.mean([len(set(r)) for r in rows]))}


def summarise(asked: list[tuple[int, str]], heard: dict[str, list[tuple[int, str]]]) -> dict:
    """Per estimator: how many outputs are heard in the asked key, and in how many distinct keys they fall."""
    return {name: {"exact": sum(tuple(h) == tuple(a) for h, a in zip(keys, asked, strict=True)),
                   "distinct_keys": len({tuple(h) for h in keys})} for name, keys in heard.items()}


@torch.no_grad()
def run(model_dir: str, strengths: list[float], seconds: float, seed: int, tokens: str | None) -> dict:
    from simba_music.modeling.keys import parse_key
    from simba_music_lab.codec.key_round_trip import available_estimators
    from simba_music_lab.evaluation.harness import load_model
    from simba_music_lab.evaluation.key import estimate_key
    from simba_music_lab.evaluation.prompts import read_prompts

    model, processor = load_model(model_dir, "cpu")
    rate = model.config.sampling_rate
    prompts = read_prompts("keys")
    asked = [parse_key(prompt["key"]) for prompt in prompts]
    estimators = {**available_estimators(), "ours": lambda audio, rate: parse_key(estimate_key(audio, rate)[0])}
    result = {"prompts": len(prompts), "seconds": seconds, "by_strength": {}}
    for strength in strengths:
        heard, codes = {name: [] for name in estimators}, []
        for index, prompt in enumerate(prompts):
            output = model.generate(**processor([prompt["caption"]]), duration=seconds, seed=seed + index,
                                    key=prompt["key"], key_strength=strength, progress_bar=False)
            audio = output.audio[0].mean(0).float().numpy()
            for name, estimate in estimators.items():
                heard[name].append(estimate(audio, rate))
            codes.append(output.sequences[0, 0].numpy())
        result["by_strength"][str(strength)] = {**summarise(asked, heard), **code_motion(codes)}
    if tokens is not None:
        from datasets import load_from_disk

        rows = load_from_disk(tokens)["validation"]["codes"]
        frames = round(seconds * model.frame_rate)
        result["validation_clips"] = code_motion([np.asarray(row)[..., :frames].reshape(-1, frames)[0]
                                                  for row in rows[:200]])
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 2.0, 4.0, 8.0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0, help="prompt i uses seed + i")
    parser.add_argument("--tokens", default=None, help="a `simba-music preprocess` output: its validation clips' "
                        "code motion is printed beside the generated codes'")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds: must be > 0, got {args.seconds}")
    torch.set_num_threads(1)
    print(json.dumps(run(args.model, args.strengths, args.seconds, args.seed, args.tokens)))


if __name__ == "__main__":
    main()
