"""The Accelerate training loop (`simba-music train`), from one CPU to many GPUs (`accelerate launch`).

Defaults are the paper's: AdamW (lr 1e-4, weight decay 0.02, eps 1e-7), 500 warmup steps then cosine to 5e-7,
label smoothing 0.1, gradient clipping at 1.0, 10% caption dropout to the empty caption.

Resuming is exact: a checkpoint (written to a temporary folder, then renamed) holds the model, optimizer, scheduler,
every RNG, the caption-dropout generator and the loss history; the data order of an epoch is a function of the seed
and the epoch, and the batches already seen in the interrupted epoch are skipped.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from simba_music_cli.training import VALUE_RANGES, TrainArguments  # noqa: F401  (the options live there)

from ..hub_check import check_hub_push
from ..io_utils import (
    atomic_directory,
    atomic_path,
    check_output_directory,
    exclusive_lock,
    output_errors,
    read_output_marker,
    terminate_as_exception,
    write_output_marker,
)
from ..modeling import SimbaMusicForCausalLM
from ..modeling.configuration_simba_music import SimbaMusicConfig
from ..validation import check_keys, read_json_file
from .checkpoints import CHECKPOINTS, latest_checkpoint, save_checkpoint
from .codec_record import check_codec_records, codec_identity, dataset_codec, model_codec, write_model_codec
from .collator import SimbaMusicCollator, caption_drop_mask, drop_captions
from .crop import RandomCrop, crop_frames
from .data import load_training_data
from .plots import plot_training_curves
from .recaption import Recaptioner, parse_caption_styles

# What a resume must keep unless --change-settings: the schedule is a function of these (changing --max-steps
# recomputed the cosine, a jump from 5e-7 to 4.4e-4 one step after resuming).
RESUME_SETTINGS = ("learning_rate", "min_learning_rate", "warmup_steps", "max_steps", "batch_size",
                   "gradient_accumulation_steps", "weight_decay", "adam_epsilon", "label_smoothing",
                   "max_grad_norm", "caption_dropout", "crop_seconds", "seed")


def warmup_cosine(step: int, warmup: int, total: int, floor_ratio: float) -> float:
    """Learning-rate multiplier: linear warmup, then cosine from 1 down to `floor_ratio` at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor_ratio + (1 - floor_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class TrainingState:
    """Everything besides model, optimizer and RNGs that an exact resume needs. Stored as JSON plus safetensors
    next to Accelerate's files, not through `register_for_checkpointing`, whose loader unpickles arbitrary objects."""

    step: int = 0  # optimizer steps
    epoch: int = 0
    batches_into_epoch: int = 0  # micro-batches of `epoch` already consumed
    train_seconds: float = 0.0  # wall-clock spent in training steps, evaluation and checkpoints excluded
    history: list = field(default_factory=list)
    dropout_rng: torch.Generator = field(default_factory=torch.Generator)

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        (directory / "training_state.json").write_text(json.dumps(
            {"step": self.step, "epoch": self.epoch, "batches_into_epoch": self.batches_into_epoch,
             "train_seconds": self.train_seconds, "history": self.history}))
        save_file({"dropout_rng": self.dropout_rng.get_state()}, str(directory / "dropout_rng.safetensors"))

    def load(self, directory: Path) -> None:
        from safetensors.torch import load_file

        state = json.loads((directory / "training_state.json").read_text())
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batches_into_epoch, self.history = int(state["batches_into_epoch"]), list(state["history"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.dropout_rng.set_state(load_file(str(directory / "dropout_rng.safetensors"))["dropout_rng"])


WRITER = "simba-music train"


def run_identity(model: SimbaMusicForCausalLM, dataset: str) -> dict:
    """What a resume must share with the run it continues: the decoder config and the dataset (its content
    fingerprint from `datasets`, so that a moved copy still matches)."""
    import hashlib

    config = {k: v for k, v in model.config.to_dict().items()
              if not k.startswith("_") and k not in ("transformers_version", "label_smoothing", "architectures")}
    fingerprints = {}
    for state in sorted(Path(dataset).glob("*/state.json")):
        fingerprints[state.parent.name] = json.loads(state.read_text()).get("_fingerprint")
    digest = lambda value: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]  # noqa: E731
    return {"config_sha256": digest(config), "dataset": str(Path(dataset).resolve()),
            "dataset_sha256": digest(fingerprints)}


def _check_run_folder(args: TrainArguments, output: Path, identity: dict) -> Path | None:
    """The checkpoint to resume from, after refusing a folder whose run this is not (see `train`)."""
    checkpoints = output / CHECKPOINTS
    recorded = read_output_marker(output) or {}
    existing = latest_checkpoint(checkpoints)
    if args.resume:
        if existing is None:
            raise ValueError(f"--resume: no checkpoint in {str(checkpoints)!r}; start the run without --resume")
        if recorded.get("writer") != WRITER:
            raise ValueError(f"--resume: {str(output)!r} was not written by simba-music train (no run record)")
        changed = [key for key in ("config_sha256", "dataset_sha256") if recorded.get(key) != identity[key]]
        if changed:
            what = {"config_sha256": "decoder config", "dataset_sha256": "dataset"}
            raise ValueError(f"--resume: the run in {str(output)!r} was started with another "
                             f"{' and '.join(what[key] for key in changed)} "
                             f"(its dataset: {recorded.get('dataset')!r}); "
                             "resume with the same --config/--init-from and --dataset, or start a new --output-dir")
        _check_resume_settings(args, recorded.get("settings"))
        return existing
    if existing is not None and not args.overwrite:
        raise ValueError(f"--output-dir: {str(output)!r} holds a run (checkpoint {existing.name}); pass --resume to "
                         "continue it, --overwrite to start afresh (its checkpoints are deleted), or choose another "
                         "folder")
    return None


def _check_resume_settings(args: TrainArguments, recorded: dict | None) -> None:
    """Refuse a resume whose schedule settings differ from the run's (unless --change-settings), saying what."""
    changes = [f"--{key.replace('_', '-')} {recorded[key]} -> {getattr(args, key)}" for key in RESUME_SETTINGS
               if recorded and key in recorded and recorded[key] != getattr(args, key)]
    if changes and not args.change_settings:
        raise ValueError(f"--resume: the run started with other settings ({'; '.join(changes)}); resume with the "
                         "run's settings, or pass --change-settings to continue with the new ones (the learning-rate "
                         "schedule is recomputed from them)")


def _model_path(option: str, path: str | None):
    """--init-from as given, or the shipped demo's folder for its name; a text-to-music (composite) folder other
    than the demo is refused: a decoder folder is expected."""
    from ..shipped import DEMO_MODEL, resolve_model

    if path is None:
        return None
    resolved = resolve_model(path)
    config = Path(resolved) / "config.json"
    if config.is_file() and "audio_encoder" in read_json_file(config, option) and str(path) != DEMO_MODEL:
        raise ValueError(f"{option}: {str(path)!r} is a text-to-music (composite) folder; a decoder folder is "
                         f"expected: save its decoder (model.decoder.save_pretrained(...)), or pass {DEMO_MODEL!r} "
                         "for the shipped demo's decoder")
    return resolved


def _config_from_file(path, option: str) -> SimbaMusicConfig:
    """A SimbaMusicConfig from a JSON file of its fields; the file is named in a syntax error, and an unknown key
    (a typo such as num_hiden_layers) is refused with the closest field rather than silently ignored."""
    values = read_json_file(path, option)
    if not isinstance(values, dict):
        raise ValueError(f"{option}: {str(path)!r} must hold a JSON object of SimbaMusicConfig fields")
    check_keys(values, SimbaMusicConfig().to_dict(), f"{option} {str(path)!r}")
    try:
        return SimbaMusicConfig(**values)
    except ValueError as error:
        raise ValueError(f"{option} {str(path)!r}: {error}") from None


class TextConditioner:
    """Turns a batch into `encoder_hidden_states`: cached states, or a frozen encoder run on the tokenized caption.
    Caption dropout (`collator.drop_captions`) replaces whole rows by the empty caption's encoding. The loop decides
    which rows here, with its own checkpointed generator, rather than in the collator: Accelerate's loader collates
    one batch ahead, so a collator's generator state would be one batch off at a checkpoint and resume inexact."""

    def __init__(self, empty_states: torch.Tensor | None, encoder=None):
        self.empty_states, self.encoder = empty_states, encoder

    @torch.no_grad()
    def __call__(self, batch: dict, drop: torch.Tensor) -> dict:
        if "text_input_ids" in batch:
            states = self.encoder(input_ids=batch.pop("text_input_ids"),
                                  attention_mask=batch["text_attention_mask"]).last_hidden_state
            batch["encoder_hidden_states"], batch["encoder_attention_mask"] = states, batch.pop("text_attention_mask")
        if "encoder_hidden_states" in batch:
            batch["encoder_hidden_states"], batch["encoder_attention_mask"] = drop_captions(
                batch["encoder_hidden_states"].clone(), batch["encoder_attention_mask"].clone(), drop,
                self.empty_states)
        return batch


def _build_model(args: TrainArguments, output: Path) -> tuple[SimbaMusicForCausalLM, dict | None]:
    """From --init-from, --config, or (resuming) the config recorded when the run started; with the codec record
    of the decoder it starts from (None: unknown, or from scratch). Sizes that cannot train in this machine's memory
    are refused before anything is built."""
    from ..shipped import DEMO_MODEL

    recorded = output / "decoder_config.json"
    codec = None
    if args.init_from:
        path = _model_path("--init-from", args.init_from)
        if str(args.init_from) == DEMO_MODEL:  # the shipped composite: its decoder, and its codec
            from transformers import AutoModelForTextToWaveform

            composite = AutoModelForTextToWaveform.from_pretrained(path)
            model, codec = composite.decoder, codec_identity(composite, name=DEMO_MODEL)
        else:
            SimbaMusicConfig.from_pretrained(path).check_memory(TRAINING_COPIES, "--init-from")
            model, codec = SimbaMusicForCausalLM.from_pretrained(path), model_codec(path)
    elif args.config or recorded.exists():
        option = "--config" if args.config else "--resume"
        config = _config_from_file(args.config or recorded, option)
        config.check_memory(TRAINING_COPIES, option)
        model = SimbaMusicForCausalLM(config)
    else:
        raise ValueError(f"--resume: nothing to resume in {output}; give --config or --init-from to start")
    model.config.label_smoothing = args.label_smoothing
    return model, codec


TRAINING_COPIES = 4  # float32 weights, gradients and AdamW's two moments


def _check_text_width(data, model: SimbaMusicForCausalLM, encoder) -> None:
    """The decoder's text_hidden_size against the cached text states' width (or the text encoder's), before the run
    folder is written: it used to fail at the first forward pass, after the folder was made."""
    from ..modeling.configuration_simba_music import text_hidden_size_of

    if encoder is not None:
        width, source = text_hidden_size_of(encoder.config), "--text-encoder's hidden size"
    else:
        width, source = int(data.train[0]["text_states"].shape[-1]), "the dataset's cached text_states"
    if width != model.config.text_hidden_size:
        raise ValueError(f"text_hidden_size: the decoder takes {model.config.text_hidden_size}-wide text states but "
                         f"{source} is {width}; set text_hidden_size to {width} in --config")


@torch.no_grad()
def evaluate(model, loader, conditioner, accelerator) -> float:
    """Plain token cross-entropy (nats) on `loader`: label smoothing is a training device, so it is switched off."""
    model.eval()
    config = accelerator.unwrap_model(model).config
    smoothing, config.label_smoothing = config.label_smoothing, 0.0
    total, count = 0.0, 0
    for batch in loader:
        batch = conditioner(batch, torch.zeros(batch["input_ids"].shape[0], dtype=torch.bool))
        labels = batch["labels"]
        tokens = int((labels[..., 1:] != -100).sum())
        loss = model(**batch).loss
        total += float(accelerator.gather(loss.detach() * tokens).sum())
        count += int(accelerator.gather(torch.tensor(tokens, device=loss.device)).sum())
    config.label_smoothing = smoothing
    model.train()
    return total / max(count, 1)


def train(args: TrainArguments) -> dict:
    """Train (or resume) and return a summary; writes checkpoints, metrics.jsonl, a curve PNG and the final model.
    SIGTERM and SIGHUP stop it as Ctrl-C does; a full or read-only disk is an `OutputError` naming --output-dir."""
    with contextlib.ExitStack() as held, terminate_as_exception(), output_errors(args.output_dir, "--output-dir"):
        return _train(args, held)


def _train(args: TrainArguments, held: contextlib.ExitStack) -> dict:
    args.check()
    output = Path(args.output_dir)
    # Everything is validated before anything is written: a bad --dataset never touches an existing run.
    check_output_directory(output, "--output-dir", args.overwrite,
                           inputs=(args.dataset, args.config, args.init_from, args.text_encoder), writer=WRITER)
    set_seed(args.seed)  # before the model is built: its initial weights follow the seed
    data = load_training_data(args.dataset)
    model, codec = _build_model(args, output)
    codec = codec or dataset_codec(args.dataset)  # from scratch: the model will speak the dataset's codec
    check_codec_records(args.dataset, dataset_codec(args.dataset), codec, f"--init-from {args.init_from!r}")
    if args.push_to_hub:
        check_hub_push(args.push_to_hub)
    tokenizer, encoder = None, None
    if data.needs_text_encoder:
        if args.text_encoder is None:
            raise ValueError("the dataset has captions but no cached text_states: pass --text-encoder")
        from .text_encoder import load_text_encoder

        tokenizer, encoder = load_text_encoder(args.text_encoder)
    _check_text_width(data, model, encoder)
    recaptioner = None
    if args.caption_styles is not None:
        if not data.needs_text_encoder:
            raise ValueError("caption_styles: the dataset caches text_states of its stored captions, which cannot be "
                             "re-captioned; preprocess without --text-encoder and train with --text-encoder")
        Recaptioner.check_columns(data.train.column_names)
        recaptioner = Recaptioner(parse_caption_styles(args.caption_styles), args.seed)
    cropper = None if args.crop_seconds is None else RandomCrop(crop_frames(args.crop_seconds, args.dataset), args.seed)
    identity = run_identity(model, args.dataset)
    resume_from = _check_run_folder(args, output, identity)

    # Under `accelerate launch` every process has run the checks above before any passes the process-group
    # rendezvous in Accelerator(), so none of them sees the main process's writes below.
    checkpoints = output / CHECKPOINTS
    accelerator = Accelerator(gradient_accumulation_steps=args.gradient_accumulation_steps,
                              mixed_precision=args.mixed_precision, log_with=args.log_with, project_dir=str(output))
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        held.enter_context(exclusive_lock(output, "--output-dir"))  # one run per folder
        if _check_run_folder(args, output, identity) != resume_from:  # another run wrote here since the checks
            raise ValueError(f"--output-dir: {str(output)!r} changed while this run started; start it again")
        if resume_from is None and checkpoints.is_dir():  # --overwrite: the old run's checkpoints would be resumed
            shutil.rmtree(checkpoints)
        checkpoints.mkdir(parents=True, exist_ok=True)
        write_output_marker(output, WRITER, **identity, settings={key: getattr(args, key) for key in RESUME_SETTINGS})
        with atomic_path(output / "decoder_config.json") as temporary:
            temporary.write_text(model.config.to_json_string(use_diff=False))
    accelerator.wait_for_everyone()
    if encoder is not None:
        encoder = encoder.to(accelerator.device)
    empty_states = data.empty_text_states
    if empty_states is None and encoder is not None:
        tokens = tokenizer([""], return_tensors="pt").to(accelerator.device)
        empty_states = encoder(**tokens).last_hidden_state[0].cpu()
    text_length = {} if args.text_max_length is None else dict(max_text_length=args.text_max_length,
                                                                 pad_text_to_max_length=True)
    make_collator = lambda caption_of, crop=None: SimbaMusicCollator(  # noqa: E731
        model.config.special_token_id, tokenizer=tokenizer, caption_dropout=0.0, caption_of=caption_of, crop=crop,
        **text_length)
    conditioner = TextConditioner(empty_states, encoder)

    sampler_rng = torch.Generator()
    train_loader = torch.utils.data.DataLoader(
        data.train, batch_size=args.batch_size, collate_fn=make_collator(recaptioner, cropper),
        sampler=torch.utils.data.RandomSampler(data.train, generator=sampler_rng))
    eval_loader = (torch.utils.data.DataLoader(data.validation, batch_size=args.batch_size,
                                               collate_fn=make_collator(None))  # stored captions: comparable losses
                   if data.validation is not None else None)
    no_decay = lambda name: name.endswith("bias") or "norm" in name or "embed" in name  # noqa: E731
    groups = [{"params": [p for n, p in model.named_parameters() if not no_decay(n)],
               "weight_decay": args.weight_decay},
              {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate, eps=args.adam_epsilon, betas=(0.9, 0.999))
    floor = args.min_learning_rate / args.learning_rate
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, args.warmup_steps, args.max_steps, floor))
    model, optimizer, train_loader, scheduler = accelerator.prepare(model, optimizer, train_loader, scheduler)
    if eval_loader is not None:
        eval_loader = accelerator.prepare(eval_loader)
    state = TrainingState()
    state.dropout_rng.manual_seed(args.seed + 1)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        state.load(resume_from)
    if args.log_with and accelerator.is_main_process:
        accelerator.init_trackers("simba-music", config={k: v for k, v in asdict(args).items() if v is not None})

    metrics_path = output / "metrics.jsonl"
    if accelerator.is_main_process:
        # A resumed run keeps only the records up to its checkpoint (later ones were lost with the crash); a fresh
        # run in an old folder starts a new file.
        metrics_path.write_text("".join(json.dumps(record) + "\n" for record in state.history))
    bar = tqdm(total=args.max_steps, initial=state.step, desc="training",
               disable=not (args.progress and accelerator.is_main_process))
    model.train()
    running = []
    while state.step < args.max_steps:
        # The epoch's order depends only on seed and epoch; a resumed epoch skips what was already consumed.
        sampler_rng.manual_seed(args.seed * 100_003 + state.epoch)
        for per_epoch in (recaptioner, cropper):
            if per_epoch is not None:
                per_epoch.epoch = state.epoch
        skip = state.batches_into_epoch
        loader = accelerator.skip_first_batches(train_loader, skip) if skip else train_loader
        started = time.perf_counter()
        for batch in loader:
            state.batches_into_epoch += 1
            drop = caption_drop_mask(batch["input_ids"].shape[0], args.caption_dropout, state.dropout_rng)
            batch = conditioner(batch, drop.to(batch["input_ids"].device))
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            running.append(float(accelerator.gather(loss.detach()).mean()))
            if not accelerator.sync_gradients:
                continue
            state.step += 1
            now = time.perf_counter()
            state.train_seconds += now - started
            record = {"step": state.step, "loss": sum(running) / len(running), "lr": scheduler.get_last_lr()[0],
                      "train_seconds": round(state.train_seconds, 3)}
            running = []
            if eval_loader is not None and (state.step % args.eval_every == 0 or state.step == args.max_steps):
                record["eval_loss"] = evaluate(model, eval_loader, conditioner, accelerator)
            state.history.append(record)
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
            if args.log_with:
                accelerator.log({k: v for k, v in record.items() if k != "step"}, step=state.step)
            if accelerator.is_main_process:
                with open(metrics_path, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
            if state.step % args.save_every == 0 or state.step == args.max_steps:
                save_checkpoint(accelerator, checkpoints, state.step, state.save, args.keep_checkpoints)
            if state.step >= args.max_steps:
                break
            started = time.perf_counter()
        else:
            state.epoch, state.batches_into_epoch = state.epoch + 1, 0
    bar.close()

    accelerator.wait_for_everyone()
    final = accelerator.unwrap_model(model)
    if accelerator.is_main_process:
        with atomic_directory(output / "model", WRITER, args.overwrite) as temporary:
            final.save_pretrained(temporary)
            write_model_codec(temporary, codec)
        plot_training_curves(state.history, output / "training_curve.png")
        if args.push_to_hub:
            final.push_to_hub(args.push_to_hub)
    accelerator.end_training()
    return {"steps": state.step, "history": state.history, "model_dir": str(output / "model")}
