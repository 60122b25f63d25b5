"""Audio -> codec tokens: the training set of `simba-music train` (`simba-music preprocess`).

Input: a manifest (jsonl or csv with an `audio` path relative to the manifest and a `caption`; every other column is
kept, and a `split` column is honoured: train, validation (or valid, val, dev) and test; any other split name is refused
by name) or any `datasets.Dataset` with those columns.
Audio is decoded with soundfile (the `datasets` audio feature needs torchcodec, which needs a CUDA torch build), down-
mixed, resampled, cut into fixed-length segments, encoded into the modelled codebooks, and saved as a `DatasetDict`
with `save_to_disk`, atomically, into a folder that is new, empty or an earlier preprocess output (else refused unless
`overwrite`). Bad files (missing, corrupt, empty, NaN, silent, too short) are counted, never fatal, but a run that
encodes no segment at all is an error.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from simba_music_cli.training import PreprocessArguments

from ..audio import resample
from ..io_utils import atomic_directory, check_output_directory, output_errors, terminate_as_exception
from .codec_record import codec_identity
from .data import EMPTY_TEXT_STATES_FILE
from .manifest import read_manifest, split_name

SILENCE_PEAK = 1e-4
WRITER = "simba-music preprocess"


def audio_problem(audio: np.ndarray) -> str | None:
    """Why decoded audio cannot be used ("empty", "nan", "silent"), or None. Silence or NaN would teach (or
    warm-start) a model the codes of nothing."""
    if audio.size == 0:
        return "empty"
    if not np.isfinite(audio).all():
        return "nan"
    if np.abs(audio).max() < SILENCE_PEAK:
        return "silent"
    return None


def _segments(path: str, rate: int, channels: int, segment: int, minimum: int) -> tuple[list[np.ndarray], str | None]:
    """Decode, check, conform and cut one file; returns its segments or the reason it was skipped."""
    import soundfile

    if not Path(path).is_file():
        return [], "missing"
    try:
        audio, source_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception:  # soundfile raises several types for unreadable files
        return [], "corrupt"
    problem = audio_problem(audio)
    if problem:
        return [], problem
    waveform = torch.from_numpy(audio.T.copy())  # [channels, samples]
    waveform = waveform.mean(0, keepdim=True) if channels == 1 else waveform[:channels].expand(channels, -1)
    if source_rate != rate:
        waveform = resample(waveform, source_rate, rate)
    if waveform.shape[-1] < minimum:
        return [], "too_short"
    pieces = []
    for start in range(0, waveform.shape[-1], segment):
        piece = waveform[:, start:start + segment]
        if piece.shape[-1] < minimum:
            break
        pieces.append(torch.nn.functional.pad(piece, (0, segment - piece.shape[-1])).numpy())
    return pieces, None


def _load_codec(path: str, num_codebooks: int):
    from transformers import AutoConfig, AutoModel

    from ..modeling.audio_codec import AudioCodec

    try:
        config = AutoConfig.from_pretrained(path)
    except OSError as error:
        raise ValueError(f"--codec: cannot load a codec from {str(path)!r} ({error})") from None
    if hasattr(config, "audio_encoder"):  # a text-to-music directory: reuse its codec
        from transformers import AutoModelForTextToWaveform

        model = AutoModelForTextToWaveform.from_pretrained(path).audio_encoder
    else:
        model = AutoModel.from_pretrained(path)
    identity = codec_identity(model, name=str(path))  # of the stored weights, before weight norm is baked in
    codec = AudioCodec(_without_parametrizations(model.eval()), num_codebooks)
    codec.identity = identity
    return codec


def _without_parametrizations(model: torch.nn.Module) -> torch.nn.Module:
    """Bake weight norm into plain weights: the same outputs, and the model can be pickled to `num_proc` workers
    (torch refuses to pickle parametrized modules)."""
    from torch.nn.utils import parametrize

    for module in model.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return model


def preprocess(dataset, codec, output_dir: str, segment_seconds: float = 10.0, min_seconds: float = 2.0,
               text_encoder=None, tokenizer=None, batch_size: int = 8, num_proc: int = 1,
               progress: bool = True, overwrite: bool = False) -> dict:
    """Encode `dataset` (a `datasets.Dataset`, or a list of manifest rows, with `audio` paths and `caption`) with
    `codec` (an `AudioCodec`) into `output_dir`. Returns the summary, also written to `output_dir/summary.json`."""
    from datasets import Dataset, DatasetDict, disable_progress_bars, enable_progress_bars

    if isinstance(dataset, list):  # manifest rows (`simba_music_lab.corpus.manifest.read_manifest`)
        dataset = Dataset.from_list(dataset)

    if len(dataset) == 0:
        raise ValueError("dataset: no rows to encode")
    check_output_directory(output_dir, "--output-dir", overwrite, inputs=tuple(dataset["audio"]), writer=WRITER)
    if "split" in dataset.column_names:
        names = [split_name(value, f"dataset row {index}") for index, value in enumerate(dataset["split"])]
        dataset = dataset.remove_columns("split").add_column("split", names)

    (enable_progress_bars if progress else disable_progress_bars)()
    rate, channels = codec.sampling_rate, codec.channels
    segment, minimum = round(segment_seconds * rate), round(min_seconds * rate)
    metadata = [c for c in dataset.column_names if c != "audio"]

    def cut_and_encode(batch):
        # Decoding and encoding in one pass keeps only `batch_size` files of audio in memory: an intermediate
        # dataset of raw segments would hold the whole corpus (41 h of 16 kHz audio is 9.5 GB).
        out = {name: [] for name in ("codes", "skip_reason", "segment_index", *metadata)}
        if text_encoder is not None:
            out["text_states"] = []
        waveforms, captions = [], []
        for i, path in enumerate(batch["audio"]):
            pieces, reason = _segments(path, rate, channels, segment, minimum)
            for index, piece in enumerate(pieces or [None]):
                if piece is not None:
                    waveforms.append(np.asarray(piece, dtype=np.float32))
                    captions.append(batch["caption"][i])
                out["skip_reason"].append(reason or "")
                out["segment_index"].append(index)
                for name in metadata:
                    out[name].append(batch[name][i])
        # One segment per encoder call on the CPU: a 10 s clip's activations fit in cache, and encoding measured 3x
        # faster per clip than in batches of 8 (0.36 s vs 1.13 s, 1 thread, the 16 kHz corpus codec).
        step = len(waveforms) if next(codec.model.parameters()).device.type != "cpu" else 1
        codes = iter([c for i in range(0, len(waveforms), step)
                      for c in codec.encode(torch.as_tensor(np.stack(waveforms[i:i + step])))])
        states = iter(_text_states(captions, tokenizer, text_encoder) if waveforms and text_encoder is not None else [])
        for reason in out["skip_reason"]:  # a skipped file's row holds its reason and no codes
            c = None if reason else next(codes)
            out["codes"].append(None if reason else (c[0].tolist() if c.shape[0] == 1 else c.tolist()))
            if text_encoder is not None:
                out["text_states"].append(None if reason else next(states))
        return out

    rows = dataset.map(cut_and_encode, batched=True, batch_size=batch_size,
                       num_proc=num_proc if num_proc > 1 else None, remove_columns=dataset.column_names,
                       desc="encoding")
    reasons = Counter(rows["skip_reason"])
    skipped = {reason: count for reason, count in reasons.items() if reason}
    if not reasons.get(""):
        raise ValueError(f"no segment was encoded from {len(dataset)} file(s) (skipped: {skipped}); nothing was "
                         "written to --output-dir")
    encoded = rows.filter(lambda row: row["skip_reason"] == "", desc="filtering").remove_columns("skip_reason")
    if codec.codebook_size <= np.iinfo(np.int16).max:  # a quarter of int64's disk and memory
        from datasets import List, Value

        encoded = encoded.cast_column("codes", List(Value("int16")) if codec.num_codebooks == 1
                                      else List(List(Value("int16"))))
    splits = {"train": encoded}
    if "split" in encoded.column_names:
        splits = {name: encoded.filter(lambda row, name=name: row["split"] == name, desc=f"split {name}")
                  for name in ("train", "validation", "test")}
        splits = {name: rows for name, rows in splits.items() if len(rows) or name == "train"}

    summary = {
        # A skipped file leaves exactly one row, holding its reason.
        "files": len(dataset), "files_encoded": len(dataset) - sum(skipped.values()), "skipped": skipped,
        "segments": len(encoded),
        "hours_encoded": len(encoded) * segment / rate / 3600, "splits": {k: len(v) for k, v in splits.items()},
        "sampling_rate": rate, "frame_rate": codec.frame_rate, "num_codebooks": codec.num_codebooks,
        "segment_seconds": segment_seconds,
        # Which codec made these codes: train and evaluate refuse a model of another codec (codec_record.py).
        "codec": getattr(codec, "identity", None) or codec_identity(codec),
    }
    with atomic_directory(output_dir, WRITER, overwrite) as temporary:
        DatasetDict(splits).save_to_disk(str(temporary))
        if text_encoder is not None:
            from safetensors.torch import save_file

            empty = torch.tensor(_text_states([""], tokenizer, text_encoder)[0])
            save_file({"empty_text_states": empty}, str(temporary / EMPTY_TEXT_STATES_FILE))
        (temporary / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


@torch.no_grad()
def _text_states(captions, tokenizer, encoder) -> list:
    tokens = tokenizer(list(captions), padding=True, return_tensors="pt")
    hidden = encoder(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).last_hidden_state
    return [h[: int(m.sum())].tolist() for h, m in zip(hidden, tokens["attention_mask"], strict=True)]


def run(args: PreprocessArguments) -> dict:
    """`simba-music preprocess`. SIGTERM and SIGHUP stop it as Ctrl-C does; a full or read-only disk is an
    `OutputError` naming --output-dir (nothing half-written: the dataset is swapped in whole)."""
    with terminate_as_exception(), output_errors(args.output_dir, "--output-dir"):
        return _run(args)


def _run(args: PreprocessArguments) -> dict:
    args.check()
    check_output_directory(args.output_dir, "--output-dir", args.overwrite,
                           inputs=(args.manifest, args.codec, args.text_encoder), writer=WRITER)
    dataset = read_manifest(args.manifest)
    codec = _load_codec(args.codec, args.num_codebooks)
    tokenizer = encoder = None
    if args.text_encoder:
        from .text_encoder import load_text_encoder

        tokenizer, encoder = load_text_encoder(args.text_encoder)
    return preprocess(dataset, codec, args.output_dir, args.segment_seconds, args.min_seconds,
                      encoder, tokenizer, args.batch_size, args.num_proc, args.progress, args.overwrite)
