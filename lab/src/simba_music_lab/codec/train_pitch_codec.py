"""Train a `PitchCodecModel` (issue 30): fit its residual k-means codebooks, then its ConvNeXt + inverse-STFT decoder.

    PYTHONPATH=src python lab/src/simba_music_lab/codec/train_pitch_codec.py \
        --data DIR [DIR ...] --output-dir RUN --max-cpu-minutes 20 [--resume]

1. Codebooks (once per run; skipped on resume): every clip's features (`PitchCodecModel.features`, the fixed 2048-point
   log-STFT) are pooled and quantized by residual k-means, `num_codebooks` stages of `codebook_size` entries, each
   started from real frames (a random draw of them) and refined by Lloyd iterations. No gradient touches them.
2. Decoder: its ConvNeXt refinement learns to put back what quantization took out of the log-magnitudes, from the
   codes of `--segment-frames` frames around each frame. Loss: L1 between the refined and the clip's own
   log-magnitudes, plus L1 between their square-root magnitudes (which weighs the partials over the noise floor).
   The phase vocoder that turns magnitudes into audio has no weights, so no waveform is synthesized in training.

Resumable: a checkpoint (model, optimizer, RNG, trainer state) every `--checkpoint-every` steps in
`RUN/checkpoints/step-N` (crash-safe, `simba_music.training.checkpoints`); `--resume` continues from the newest.
The budget is CPU time of this process (`time.process_time`), summed over resumes, so that runs on a shared machine
compare. At the end the model is exported to `RUN/model` (float32) and, with `--export-fp16 DIR`, as float16.
The training clips come from rendered scores transposed into every key (see `simba_music.corpus`), WAV/FLAC at the
codec's rate, mono.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from simba_music.audio.files import load_audio
from simba_music.modeling.configuration_pitch_codec import PitchCodecConfig
from simba_music.modeling.pitch_codec import PitchCodecModel
from simba_music.training.checkpoints import (
    latest_checkpoint,
    load_trainer_state,
    save_checkpoint,
    write_trainer_state,
)

AUDIO_SUFFIXES = (".wav", ".flac")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", required=True, help="folders of training clips (searched recursively)")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output-dir")
    parser.add_argument("--num-codebooks", type=int, default=2)
    parser.add_argument("--codebook-size", type=int, default=1024)
    parser.add_argument("--kmeans-iterations", type=int, default=15)
    parser.add_argument("--codebooks", help="a .pt file of fitted codebooks [K, size, features] to use instead")
    parser.add_argument("--decoder-hidden-size", type=int, default=256)
    parser.add_argument("--decoder-num-layers", type=int, default=6)
    parser.add_argument("--segment-frames", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--max-cpu-minutes", type=float, default=20.0)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--keep-checkpoints", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export-fp16", help="also save the trained model here in float16")
    return parser.parse_args(argv)


def load_clips(folders: list[str], rate: int) -> list[torch.Tensor]:
    paths = sorted(p for folder in folders for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"--data: no {'/'.join(AUDIO_SUFFIXES)} files under {folders}")
    return [torch.from_numpy(load_audio(path, rate)).float() for path in paths]


def assign(points: torch.Tensor, entries: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Index of the nearest entry for each row of `points` (squared Euclidean), in chunks to bound memory."""
    norms = entries.square().sum(1)
    return torch.cat([(norms[None] - 2 * block @ entries.T).argmin(1) for block in points.split(chunk)])


def kmeans(points: torch.Tensor, size: int, iterations: int, generator: torch.Generator) -> torch.Tensor:
    """Lloyd's k-means started from `size` distinct real frames; empty clusters are re-seeded from random frames."""
    if points.shape[0] < size:
        raise ValueError(f"codebook_size: need at least {size} training frames, got {points.shape[0]}")
    entries = points[torch.randperm(points.shape[0], generator=generator)[:size]].clone()
    for _ in range(iterations):
        index = assign(points, entries)
        sums = torch.zeros_like(entries).index_add_(0, index, points)
        counts = torch.bincount(index, minlength=size).float()
        reseed = points[torch.randint(0, points.shape[0], (size,), generator=generator)]
        entries = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], reseed)
    return entries


def fit_codebooks(model: PitchCodecModel, clips: list[torch.Tensor], iterations: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        residual = torch.cat([model.features(clip[None])[0] for clip in clips])
    books = []
    for stage in range(model.config.num_codebooks):
        started = time.time()
        book = kmeans(residual, model.config.codebook_size, iterations, generator)
        residual = residual - book[assign(residual, book)]
        books.append(book)
        print(f"codebook {stage}: {residual.shape[0]} frames, residual rms {residual.square().mean().sqrt():.4f}, "
              f"{time.time() - started:.0f} s", flush=True)
    return torch.stack(books)


def refinement_losses(predicted: torch.Tensor, target: torch.Tensor, log_floor: float) -> dict[str, torch.Tensor]:
    """L1 of log-magnitudes, and L1 of square-root magnitudes relative to the target's mean (partials weigh more)."""
    root = [((torch.exp(x) - log_floor).clamp(min=0) + 1e-8).sqrt() for x in (predicted, target)]  # finite grad at 0
    return {"log": (predicted - target).abs().mean(),
            "sqrt": (root[0] - root[1]).abs().mean() / root[1].mean().clamp(min=1e-5)}


def batch(codes: list[torch.Tensor], features: list[torch.Tensor], args, rng: np.random.Generator):
    """Random segments: codes [B, K, segment_frames] and the clips' own log-magnitudes [B, segment_frames, bins]."""
    chosen_codes, chosen_features = [], []
    for item in rng.integers(0, len(codes), args.batch_size):
        frames = codes[item].shape[-1]
        length = min(frames, args.segment_frames)
        start = int(rng.integers(0, frames - length + 1))
        chosen_codes.append(codes[item][:, start:start + length])
        chosen_features.append(features[item][start:start + length])
    length = min(piece.shape[-1] for piece in chosen_codes)  # clips shorter than a segment shorten the batch
    return (torch.stack([piece[:, :length] for piece in chosen_codes]),
            torch.stack([piece[:length] for piece in chosen_features]))


def build_model(args, output_dir: Path, clips: list[torch.Tensor]) -> PitchCodecModel:
    config_path = output_dir / "codec_config.json"
    if args.resume and config_path.is_file():
        return PitchCodecModel(PitchCodecConfig(**json.loads(config_path.read_text())))
    config = PitchCodecConfig(num_codebooks=args.num_codebooks, codebook_size=args.codebook_size,
                              decoder_hidden_size=args.decoder_hidden_size, decoder_num_layers=args.decoder_num_layers)
    torch.manual_seed(args.seed)
    model = PitchCodecModel(config)
    books = (torch.load(args.codebooks, weights_only=True) if args.codebooks
             else fit_codebooks(model, clips, args.kmeans_iterations, args.seed))
    model.set_codebooks(torch.stack(list(books)) if isinstance(books, (list, tuple)) else books)
    output_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps({key: getattr(config, key) for key in (
        "num_codebooks", "codebook_size", "decoder_hidden_size", "decoder_num_layers")}))
    torch.save(model.codebooks.clone(), output_dir / "codebooks.pt")
    return model


def main(argv=None) -> None:
    from accelerate import Accelerator

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    output_dir = Path(args.output_dir)
    checkpoint = latest_checkpoint(output_dir / "checkpoints") if args.resume else None
    if args.resume and checkpoint is None:
        print(f"--resume: no checkpoint under {output_dir / 'checkpoints'}; starting fresh", flush=True)
    elif checkpoint is None and output_dir.joinpath("checkpoints").is_dir():
        raise FileExistsError(f"--output-dir {output_dir} holds checkpoints: pass --resume or use another folder")
    rate = PitchCodecConfig().sampling_rate
    clips = load_clips(args.data, rate)
    print(f"{len(clips)} clips, {sum(c.shape[0] for c in clips) / rate / 60:.1f} min of audio", flush=True)
    model = build_model(args, output_dir, clips)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, betas=(0.8, 0.99), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / args.warmup_steps))
    accelerator = Accelerator(cpu=True)
    model, optimizer, schedule = accelerator.prepare(model, optimizer, schedule)
    state = {"step": 0, "cpu_seconds": 0.0}
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        state = load_trainer_state(checkpoint)
        print(f"resumed from {checkpoint} (step {state['step']}, {state['cpu_seconds'] / 60:.1f} CPU-min)", flush=True)
    with torch.no_grad():
        features = [model.features(clip[None])[0] for clip in clips]
        codes = [model.quantize(feature[None])[0] for feature in features]
    rng = np.random.default_rng(args.seed + state["step"])
    started = time.process_time()

    def cpu_seconds() -> float:
        return state["cpu_seconds"] + time.process_time() - started

    def checkpoint_now() -> None:
        save_checkpoint(accelerator, output_dir / "checkpoints", state["step"],
                        write_trainer_state({**state, "cpu_seconds": cpu_seconds()}), args.keep_checkpoints)

    model.train()
    while state["step"] < args.max_steps and cpu_seconds() < 60 * args.max_cpu_minutes:
        segment_codes, target = batch(codes, features, args, rng)
        unwrapped = accelerator.unwrap_model(model)
        predicted = unwrapped.refine(unwrapped.dequantize(segment_codes))
        losses = refinement_losses(predicted, target, unwrapped.config.log_floor)
        loss = losses["log"] + losses["sqrt"]
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"step {state['step']}: non-finite loss {losses}")
        optimizer.zero_grad()
        accelerator.backward(loss)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        state["step"] += 1
        if state["step"] % 50 == 0:
            record = {"step": state["step"], "cpu_minutes": round(cpu_seconds() / 60, 2),
                      **{name: round(value.item(), 4) for name, value in losses.items()}}
            with open(output_dir / "log.jsonl", "a") as log:
                print(json.dumps(record), file=log)
        if state["step"] % args.checkpoint_every == 0:
            checkpoint_now()
    checkpoint_now()
    model = accelerator.unwrap_model(model).eval()
    model.save_pretrained(output_dir / "model")
    if args.export_fp16:
        model.to(torch.float16).save_pretrained(args.export_fp16)
    print(f"done: step {state['step']}, {cpu_seconds() / 60:.1f} CPU-min; model in {output_dir / 'model'}", flush=True)


if __name__ == "__main__":
    main()
