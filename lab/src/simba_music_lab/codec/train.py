"""Training a small codec on a manifest of audio clips, with Accelerate: an RVQ EnCodec (transformers
``EncodecModel``) or a one-codebook WavTokenizer (``WavTokenizerModel``, Vocos decoder); see ``codec_format``."""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from simba_music.io_utils import check_output_directory, write_output_marker
from simba_music.training.checkpoints import (
    CHECKPOINTS,
    export_model_atomically,
    latest_checkpoint,
    load_trainer_state,
    save_checkpoint,
    write_trainer_state,
)
from simba_music_lab.codec.adversarial import LOSS_NAMES as ADVERSARIAL_LOSSES
from simba_music_lab.codec.adversarial import AdversarialStage
from simba_music_lab.codec.data import CropSampler
from simba_music_lab.codec.evaluation import held_out_metrics
from simba_music_lab.codec.formats import (
    codec_encoder,
    codec_encoder_parts,
    codec_quantizer,
    decode_latents,
)
from simba_music_lab.codec.initialization import build_model, codebooks_ready, data_dependent_init
from simba_music_lab.codec.losses import multiresolution_stft_loss, multiscale_mel_loss, time_l1_loss
from simba_music_lab.codec.melody import melody_pitch_kept
from simba_music_lab.codec.quantizer import kmeans_init_quantizer, quantize_for_training
from simba_music_lab.codec.train_config import CodecTrainConfig

logger = logging.getLogger(__name__)
# The markers name the writer as it was before the lab had its own command, so that older runs still resume.
WRITER = "simba-music codec train"  # the run folder's output marker
EXPORT_WRITER = "simba-music codec"  # the exported model folder's


class CodecTrainingModule(nn.Module):
    """Wraps the codec so one ``forward`` yields all losses (and DDP sees a single module)."""

    def __init__(self, model, config: CodecTrainConfig):
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, audio: torch.Tensor, num_active: int, update_codebooks: bool, generator=None) -> dict:
        """``num_active=0`` bypasses the quantizer (autoencoder warm-up before the codebooks exist)."""
        latents = codec_encoder(self.model)(audio)
        if num_active == 0:
            rvq = {
                "quantized": latents,
                "codes": torch.zeros(latents.shape[0], 1, latents.shape[2], dtype=torch.long, device=latents.device),
                "commitment_loss": latents.new_zeros(()),
                "dead_restarts": 0,
            }
        else:
            rvq = quantize_for_training(
                codec_quantizer(self.model),
                latents,
                num_active,
                update_codebooks and not self.config.freeze_encoder,  # frozen: the codebooks keep every code
                decay=self.config.ema_decay,
                dead_fraction=self.config.dead_code_fraction,
                generator=generator,
            )
        reconstruction = decode_latents(self.model, rvq["quantized"])[..., : audio.shape[-1]]
        mel = multiscale_mel_loss(reconstruction, audio, self.config.sample_rate)
        time_l1 = time_l1_loss(reconstruction, audio)
        loss = (
            self.config.mel_weight * mel
            + self.config.time_weight * time_l1
            + self.config.commitment_weight * rvq["commitment_loss"]
        )
        stft = audio.new_zeros(())
        if self.config.stft_weight:
            stft = multiresolution_stft_loss(reconstruction, audio)
            loss = loss + self.config.stft_weight * stft
        return {
            "loss": loss,
            "mel_loss": mel.detach(),
            "stft_loss": stft.detach(),
            "time_l1": time_l1.detach(),
            "commitment_loss": rvq["commitment_loss"].detach(),
            "codes": rvq["codes"],
            "reconstruction": reconstruction,
            "dead_restarts": rvq["dead_restarts"],
            "codes_used_first": int(rvq["codes"][:, 0].unique().numel()),
        }


def choose_num_active(step_generator: torch.Generator, num_codebooks: int, dropout: float,
                      first_only: float = 0.0) -> int:
    """Quantizer dropout. With probability ``first_only`` only the first codebook (the one the language model
    predicts, so its decoding matters most); otherwise with probability ``dropout`` a uniform prefix length; else all.
    """
    draw = torch.rand((), generator=step_generator).item()
    if draw < first_only:
        return 1
    if draw < first_only + (1 - first_only) * dropout:
        return int(torch.randint(1, num_codebooks + 1, (), generator=step_generator).item())
    return num_codebooks


@torch.no_grad()
def evaluate(module: CodecTrainingModule, audio: torch.Tensor, transcriber=None) -> dict:
    """Validation mel loss with all codebooks and with the first codebook alone, code usage, and the held-out
    measures of the first codebook (the one the language model models): mel distance, comb strength, note F1, and the
    share of a synthetic melody's notes whose pitch it keeps (`codec/melody.py`)."""
    if not codebooks_ready(module.model):
        return {}
    module.eval()
    results = {}
    modes = (("all", module.config.num_codebooks), ("first", 1)) if module.config.num_codebooks > 1 else (("first", 1),)
    for name, active in modes:
        out = module(audio, active, update_codebooks=False)
        results[f"val_mel_{name}"] = round(float(out["mel_loss"]), 5)
        results[f"val_time_l1_{name}"] = round(float(out["time_l1"]), 5)
        if active == module.config.num_codebooks:
            results["val_distinct_codes_first"] = int(out["codes"][:, 0].unique().numel())
        if active == 1:
            frame_rate = module.config.sample_rate / math.prod(module.config.upsampling_ratios)
            results.update(held_out_metrics(out["reconstruction"].float().cpu().numpy()[:, 0],
                                            audio.float().cpu().numpy()[:, 0], module.config.sample_rate,
                                            frame_rate, transcriber))

            def through_first_codebook(melody):
                batch = torch.from_numpy(melody)[None, None].to(audio.device, audio.dtype)
                return module(batch, 1, update_codebooks=False)["reconstruction"][0, 0].float().cpu().numpy()
            melody = melody_pitch_kept(through_first_codebook, module.config.sample_rate, frame_rate=frame_rate)
            results["melody_kept"] = melody["kept_within_50_cents"]
            results["melody_missed_on_frame_grid"] = melody["missed_on_frame_grid"]
    module.train()
    return results


def learning_rate_factor(step: int, config: CodecTrainConfig) -> float:
    """The learning rate at ``step`` over ``config.learning_rate``: linear warm-up, then optionally a cosine decay."""
    factor = min(1.0, (step + 1) / max(1, config.warmup_steps))
    if config.decay_start_step is None or step < config.decay_start_step:
        return factor
    progress = min(1.0, (step - config.decay_start_step) / config.decay_steps)
    floor = config.final_learning_rate_fraction
    return factor * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


# The fields that shape the codec's tensors: a resume with another value cannot load the checkpoint.
ARCHITECTURE_FIELDS = ("codec_format", "sample_rate", "num_codebooks", "codebook_size", "num_filters", "hidden_size",
                       "num_lstm_layers", "upsampling_ratios", "decoder_hidden_size", "decoder_intermediate_size",
                       "decoder_num_layers")


def check_same_architecture(config: CodecTrainConfig, saved: dict) -> None:
    """Refuse, before anything is loaded or written, a resume whose options would build another codec than the
    checkpoint's (it failed with a tensor size-mismatch traceback), naming each changed option."""
    def plain(value):
        return list(value) if isinstance(value, (list, tuple)) else value

    changed = [f"--{name.replace('_', '-')} {plain(saved[name])} -> {plain(getattr(config, name))}"
               for name in ARCHITECTURE_FIELDS if name in saved and plain(saved[name]) != plain(getattr(config, name))]
    if changed:
        raise ValueError(f"resume: the run in {config.output_dir!r} trains another codec ({'; '.join(changed)}); "
                         "resume with the run's values, or give a new --output-dir")


def train_codec(config: CodecTrainConfig) -> dict:
    """Train (or resume) and export the model to ``output_dir/model``; returns the final trainer state."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    config.check()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    output_dir = Path(config.output_dir)
    check_output_directory(output_dir, "output_dir", config.overwrite, inputs=(config.manifest,), writer=WRITER)
    accelerator = Accelerator()
    segment = int(round(config.segment_seconds * config.sample_rate))
    train_data = CropSampler(config.manifest, "train", config.sample_rate, segment, seed=config.seed)
    try:
        validation_data = CropSampler(config.manifest, "validation", config.sample_rate, segment * 2, seed=config.seed)
    except ValueError:  # tiny corpora may have no validation work; fall back to training clips, and say so
        logger.warning("no validation split in %s; validation numbers use training clips", config.manifest)
        validation_data = CropSampler(config.manifest, "train", config.sample_rate, segment * 2, seed=config.seed)
    validation_audio = validation_data.fixed_batch(config.validation_items, seconds_offset=1.0)
    if config.freeze_encoder and latest_checkpoint(output_dir / CHECKPOINTS) is None:
        raise ValueError(f"freeze_encoder: {str(output_dir)!r} has no checkpoint with trained codebooks to keep")
    if config.resume and latest_checkpoint(output_dir / CHECKPOINTS) is not None:
        check_same_architecture(config, load_trainer_state(latest_checkpoint(output_dir / CHECKPOINTS))["config"])
    output_dir.mkdir(parents=True, exist_ok=True)  # after the manifest was read: a bad one writes nothing
    write_output_marker(output_dir, WRITER)

    model = build_model(config)
    module = CodecTrainingModule(model, config)
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.learning_rate, betas=(0.8, 0.99), weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: learning_rate_factor(s, config))
    module, optimizer, scheduler = accelerator.prepare(module, optimizer, scheduler)
    unwrapped = accelerator.unwrap_model(module)
    adversarial = AdversarialStage(config) if config.adversarial_start_step is not None else None

    step = 0
    trainer_state: dict = {"config": asdict(config), "history": []}
    checkpoint = latest_checkpoint(output_dir / CHECKPOINTS) if config.resume else None
    if checkpoint is not None:
        saved_state = load_trainer_state(checkpoint)
        has_discriminator = saved_state.get("discriminator", False)
        if adversarial is not None and has_discriminator:
            adversarial.prepare(accelerator)  # before load_state: it restores the discriminator too
        accelerator.load_state(str(checkpoint))
        if adversarial is not None and not has_discriminator:
            adversarial.prepare(accelerator)  # after load_state: the checkpoint has none, this one starts fresh
            logger.info("the checkpoint has no discriminator: a new one trains from step %d",
                        max(saved_state["step"], config.adversarial_start_step))
        trainer_state = saved_state
        step = trainer_state["step"]
        # The run may continue with other settings (a bigger manifest, the adversarial stage or the learning-rate
        # decay switched on or moved: schedules, not part of the codec, so no resume refuses them); keep a trail.
        trainer_state.setdefault("resumes", []).append({"step": step, "manifest": config.manifest,
                                                        "adversarial_start_step": config.adversarial_start_step,
                                                        "decay_start_step": config.decay_start_step,
                                                        "freeze_encoder": config.freeze_encoder})
        trainer_state["config"] = asdict(config)
        logger.info("resumed from %s at step %d", checkpoint, step)
    elif adversarial is not None:
        adversarial.prepare(accelerator)
    elif config.resume:
        logger.info("no checkpoint in %s; starting fresh", output_dir)
    if config.freeze_encoder:
        if not codebooks_ready(unwrapped.model):
            raise ValueError(f"freeze_encoder: {str(output_dir)!r} has no checkpoint with trained codebooks to keep")
        for part in codec_encoder_parts(unwrapped.model):  # no gradients, so no updates; codebooks: in forward
            part.requires_grad_(False)
        logger.info("decoder-only training from step %d: the encoder and codebooks stay fixed", step)

    def initialise_codebooks() -> None:
        # Codebooks start from real encoder frames: zero or random codebooks collapse to one code. A freshly
        # initialised encoder's frames barely vary in time, hence the un-quantized warm-up before this.
        frames = torch.cat([train_data.batch(i, config.batch_size, stream=1) for i in range(config.kmeans_batches)])
        with torch.no_grad():
            latents = codec_encoder(unwrapped.model)(frames.to(accelerator.device))
        generator = torch.Generator().manual_seed(config.seed)
        frames_per_step = config.batch_size * latents.shape[-1] // config.kmeans_batches
        kmeans_init_quantizer(codec_quantizer(unwrapped.model), latents.cpu(), frames_per_step, generator=generator)
        unwrapped.model.to(accelerator.device)
        logger.info("codebooks initialised by k-means at step %d", step)

    trainer_state["discriminator"] = adversarial is not None  # what the checkpoints written from now on hold
    if checkpoint is None:
        calibration = train_data.batch(0, config.batch_size, stream=2).to(accelerator.device)
        logger.info("data-dependent init factors: %s", data_dependent_init(unwrapped.model, calibration))

    log_path = output_dir / "train_log.jsonl"
    eval_path = output_dir / "eval_log.jsonl"  # one line per checkpoint: the held-out validation measures
    transcriber = None
    if config.eval_note_f1:
        from simba_music_lab.codec.transcription import NoteTranscriber, transcription_unavailable_reason

        reason = transcription_unavailable_reason()
        if reason:
            logger.warning("no note F1 in the evaluation: %s", reason)
        else:
            transcriber = NoteTranscriber(threads=1)
    started = time.time()
    elapsed_before = trainer_state.get("elapsed_seconds", 0.0)
    last_checkpoint_time = time.time()
    running: dict[str, float] = {}
    window = 0
    adversarial_running: dict[str, float] = {}
    adversarial_window = 0

    def write_checkpoint(current_step: int) -> None:
        trainer_state.update(
            step=current_step,
            elapsed_seconds=round(elapsed_before + time.time() - started, 1),
            validation=evaluate(unwrapped, validation_audio.to(accelerator.device), transcriber),
        )
        trainer_state["history"].append({"step": current_step, **trainer_state["validation"]})
        if accelerator.is_main_process and trainer_state["validation"]:
            with open(eval_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": current_step, "seconds": trainer_state["elapsed_seconds"],
                                         **trainer_state["validation"]}) + "\n")
        save_checkpoint(accelerator, output_dir / CHECKPOINTS, current_step, write_trainer_state(trainer_state),
                        keep=config.keep_checkpoints)
        if accelerator.is_main_process:
            export_model_atomically(
                unwrapped.model, output_dir / "model", EXPORT_WRITER,
                {"training_state.json": json.dumps(trainer_state, indent=2)},
                overwrite=config.overwrite,
            )

    # SIGTERM (plain `kill PID`) finishes the current step and writes a checkpoint, so stopping a background run
    # loses nothing; a second SIGTERM is not caught twice because the handler is restored at the end.
    stop_requested = threading.Event()
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())

    bar = tqdm(total=config.max_steps, initial=step, desc="codec", unit="step", disable=not config.progress)
    module.train()
    while step < config.max_steps and not stop_requested.is_set():
        step_generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        num_active = choose_num_active(
            step_generator, config.num_codebooks, config.quantizer_dropout, config.first_codebook_only
        )
        if not codebooks_ready(unwrapped.model):
            if step >= config.quantizer_warmup_steps:
                initialise_codebooks()
            else:
                num_active = 0
        audio = train_data.batch(step, config.batch_size).to(accelerator.device)
        out = module(audio, num_active, update_codebooks=True, generator=step_generator)
        adversarial_active = adversarial is not None and adversarial.active(step)
        if adversarial_active:
            out["discriminator_loss"] = adversarial.discriminator_step(audio, out["reconstruction"])
            out.update(adversarial.generator_losses(audio, out["reconstruction"]))
            out["loss"] = out["loss"] + adversarial.weighted(out)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(out["loss"])
        if config.grad_clip > 0:
            accelerator.clip_grad_norm_(module.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        window += 1
        for name in ("loss", "mel_loss", "stft_loss", "time_l1", "commitment_loss"):
            running[name] = running.get(name, 0.0) + float(out[name].detach())
        running["dead_restarts"] = running.get("dead_restarts", 0.0) + out["dead_restarts"]
        running["codes_used_first"] = running.get("codes_used_first", 0.0) + out["codes_used_first"]
        if adversarial_active:
            adversarial_window += 1
            for name in ADVERSARIAL_LOSSES:
                adversarial_running[name] = adversarial_running.get(name, 0.0) + float(out[name].detach())
        bar.update(1)
        if step % config.log_every == 0 or step == config.max_steps:
            record = {"step": step, **{k: round(v / window, 5) for k, v in running.items()}}
            record["learning_rate"] = float(f"{scheduler.get_last_lr()[0]:.4g}")  # the rate the next step uses
            record["dead_restarts"] = int(running["dead_restarts"])
            # Averaged over the window's adversarial steps only; absent before adversarial_start_step.
            record.update({k: round(v / adversarial_window, 5) for k, v in adversarial_running.items()})
            record["seconds"] = round(elapsed_before + time.time() - started, 1)
            bar.set_postfix(loss=record["loss"], mel=record["mel_loss"])
            if accelerator.is_main_process:
                with open(log_path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
            trainer_state["last_train"] = record
            running, window, adversarial_running, adversarial_window = {}, 0, {}, 0
        due_by_steps = config.checkpoint_steps is not None and step % config.checkpoint_steps == 0
        due_by_time = time.time() - last_checkpoint_time >= config.checkpoint_minutes * 60
        if due_by_steps or due_by_time:
            write_checkpoint(step)
            last_checkpoint_time = time.time()
    bar.close()
    if previous_handler is not None:
        signal.signal(signal.SIGTERM, previous_handler)
    if stop_requested.is_set():
        logger.info("SIGTERM: stopping at step %d after a checkpoint", step)
    last = latest_checkpoint(output_dir / CHECKPOINTS)
    if last is None or load_trainer_state(last)["step"] != step:
        write_checkpoint(step)
    return trainer_state
