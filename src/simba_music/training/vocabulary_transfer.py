"""Carry a trained decoder over to a new codec's codes: a warm start for retraining after a codec change.

Only two tensors of a decoder belong to its codec: the code embedding and the output head, one row per code. The
sequence and channel mixers and the text projection learned which music follows which caption, in a form that does
not name any code. So when the codec changes, everything else is copied, and each new code's rows start as the mean
of the old codes' rows, weighted by how often that old code sounds at the same moment. Encoding the same audio with
both codecs counts those co-occurrences frame by frame (`count_code_pairs`).

Measured on the demo (CHANGELOG.md, 2026-11-30): on validation clips of the one-codebook codec's tokens, the transferred
decoder starts at 5.89 nats per token, against 6.97 for a fresh one and 6.74 for the best unigram guess.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from simba_music_cli.training import VocabularyTransferArguments

from ..modeling.configuration_simba_music import SimbaMusicConfig
from ..modeling.decoder import SimbaMusicForCausalLM
from .codec_record import MODEL_RECORD

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
WRITER = "simba-music transfer-vocabulary"


def count_code_pairs(new_codes: torch.Tensor, old_codes: torch.Tensor, new_frame_rate: float,
                     old_frame_rate: float, counts: torch.Tensor) -> torch.Tensor:
    """Add to `counts` [new codebook size, old codebook size] one count per frame of `new_codes` [frames], paired
    with the `old_codes` [frames'] frame that holds its centre in time (the codecs' frame rates may differ). Both
    sequences encode the same audio from its first sample. Returns `counts`."""
    if new_codes.dim() != 1 or old_codes.dim() != 1:
        raise ValueError(f"new_codes, old_codes: must be 1-d code sequences, got shapes {tuple(new_codes.shape)} and "
                         f"{tuple(old_codes.shape)}")
    if min(new_frame_rate, old_frame_rate) <= 0:
        raise ValueError(f"frame rates must be > 0, got {new_frame_rate} and {old_frame_rate}")
    if len(old_codes) == 0 or len(new_codes) == 0:
        return counts
    centres = (torch.arange(len(new_codes), dtype=torch.float64) + 0.5) * (old_frame_rate / new_frame_rate)
    partner = centres.floor().long()
    kept = partner < len(old_codes)  # the old codec's last frame may end earlier
    pairs = (new_codes[kept].long(), old_codes[partner[kept]].long())
    for codes, size, name in ((pairs[0], counts.shape[0], "new_codes"), (pairs[1], counts.shape[1], "old_codes")):
        if len(codes) and not 0 <= int(codes.min()) <= int(codes.max()) < size:
            raise ValueError(f"{name}: codes must be in [0, {size}), got {int(codes.min())}..{int(codes.max())}")
    counts.index_put_(pairs, torch.ones(len(pairs[0]), dtype=counts.dtype), accumulate=True)
    return counts


def code_mixing_weights(counts: torch.Tensor) -> torch.Tensor:
    """Row-normalised `counts` [new, old]: each new code's rows are this mix of the old codes' rows. A new code
    never seen gets the old codes' overall frequencies, the expected row when nothing is known about it."""
    counts = counts.to(torch.float64)
    seen = counts.sum(dim=1, keepdim=True)
    overall = counts.sum(dim=0)
    if float(overall.sum()) == 0:
        raise ValueError("counts: no code pairs were counted; encode some audio with both codecs first")
    weights = counts / seen.clamp(min=1)
    weights[seen[:, 0] == 0] = overall / overall.sum()
    return weights


def transfer_vocabulary(decoder: SimbaMusicForCausalLM, counts: torch.Tensor) -> SimbaMusicForCausalLM:
    """A new decoder for a codec of `counts.shape[0]` codes: every tensor of `decoder` copied, except the code
    embedding and output head, whose code rows are the `code_mixing_weights` mix of the old ones; the special
    (start / pad) id's rows are carried as they are. Float32, in `decoder`'s train/eval mode; `decoder` is
    unchanged."""
    config = decoder.config
    if config.num_codebooks != 1:
        raise ValueError(f"decoder: vocabulary transfer carries one codebook; this decoder models "
                         f"{config.num_codebooks} (num_codebooks)")
    old_size = config.codebook_size
    if counts.dim() != 2 or counts.shape[1] != old_size or counts.shape[0] < 1:
        raise ValueError(f"counts: must be [new codebook size, {old_size}] (the decoder's codebook size), got "
                         f"{tuple(counts.shape)}")
    new_size = counts.shape[0]
    weights = code_mixing_weights(counts).to(torch.float32)
    fields = config.to_dict()
    fields.update(vocab_size=new_size + 1, special_token_id=new_size, bos_token_id=new_size, pad_token_id=new_size)
    new_decoder = SimbaMusicForCausalLM(SimbaMusicConfig.from_dict(fields))

    state = {name: tensor.float() for name, tensor in decoder.state_dict().items()}
    for module_name in ("model.embed_tokens.0.weight", "lm_head.0.weight"):
        old_rows = state[module_name]
        new_rows = torch.empty(new_size + 1, old_rows.shape[1])
        new_rows[:new_size] = weights @ old_rows[:old_size]
        new_rows[new_size] = old_rows[old_size]
        state[module_name] = new_rows
    new_decoder.load_state_dict(state, strict=True)
    return new_decoder.train(decoder.training)


def audio_files(paths, option: str = "--audio") -> list[Path]:
    """The sound files named in `paths`, folders searched recursively, manifests' train rows, in a stable order."""
    from .manifest import read_manifest

    found = []
    for path in map(Path, paths):
        if path.is_file() and path.suffix.lower() in (".jsonl", ".csv"):
            # Rows without a split are training rows, as preprocess takes them.
            found += [Path(row["audio"]) for row in read_manifest(path) if row.get("split", "train") == "train"]
        elif path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise ValueError(f"{option}: {str(path)!r} is neither a file nor a folder")
    if not found:
        raise ValueError(f"{option}: no {'/'.join(AUDIO_SUFFIXES)} files in {[str(p) for p in paths]}")
    return found


def _encode_with_each(codecs, path: Path, max_seconds: float) -> list[torch.Tensor]:
    """`path`'s codes under each codec; the file is read once per distinct sampling rate (once when they agree).
    Empty, NaN or silent audio is a ValueError naming the reason (`preprocess.audio_problem`)."""
    from ..audio.files import load_audio
    from .preprocess import audio_problem

    audio = {rate: load_audio(path, rate)[: int(max_seconds * rate)] for rate in {c.sampling_rate for c in codecs}}
    problem = next(filter(None, map(audio_problem, audio.values())), None)
    if problem:
        raise ValueError(problem)
    return [codec.encode(torch.from_numpy(audio[codec.sampling_rate]).float()[None, None]
                         .expand(1, codec.channels, -1))[0, 0] for codec in codecs]


@torch.no_grad()
def run(args: VocabularyTransferArguments) -> dict:
    """`simba-music transfer-vocabulary`: count code pairs on the audio, transfer, and save the new decoder."""
    from transformers import AutoModelForTextToWaveform

    from ..io_utils import check_output_directory, output_errors
    from ..shipped import resolve_model
    from .checkpoints import export_model_atomically
    from .preprocess import _load_codec

    args.check()
    model_path = resolve_model(args.model)
    check_output_directory(args.output_dir, "--output-dir", args.overwrite,
                           inputs=(model_path, args.codec, *args.audio), writer=WRITER)
    files = audio_files(args.audio)
    if len(files) > args.max_files:
        chosen = np.random.default_rng(args.seed).choice(len(files), args.max_files, replace=False)
        files = [files[i] for i in sorted(chosen)]
    try:
        model = AutoModelForTextToWaveform.from_pretrained(model_path).eval()
    except OSError as error:
        raise ValueError(f"--model: cannot load a text-to-music model from {str(model_path)!r}: {error}") from error
    old_codec, new_codec = model.codec, _load_codec(args.codec, 1)
    counts = torch.zeros(new_codec.codebook_size, old_codec.codebook_size, dtype=torch.float64)
    skipped = []
    for path in tqdm(files, desc="encoding with both codecs", disable=not args.progress):
        try:
            new_codes, old_codes = _encode_with_each((new_codec, old_codec), path, args.max_seconds)
        except (RuntimeError, ValueError) as error:  # soundfile's for unreadable files; ours for silent, NaN, empty
            skipped.append(f"{path}: {error}")
            continue
        count_code_pairs(new_codes, old_codes, new_codec.frame_rate, old_codec.frame_rate, counts)
    if skipped:
        warnings.warn(f"--audio: {len(skipped)} of {len(files)} file(s) skipped (silent, NaN, empty or unreadable), "
                      f"first: {skipped[0]}", stacklevel=2)
    if len(skipped) == len(files):
        raise ValueError(f"--audio: none of the {len(files)} file(s) could be encoded ({skipped[0]}, ...); nothing "
                         "was written")
    decoder = transfer_vocabulary(model.decoder, counts)
    summary = {"model": str(model_path), "codec": str(args.codec), "files": len(files) - len(skipped),
               "skipped": skipped, "skipped_count": len(skipped), "frames": int(counts.sum()),
               "new_codes_seen": int((counts.sum(dim=1) > 0).sum()), "new_codebook_size": counts.shape[0],
               "old_codebook_size": counts.shape[1]}
    files_beside = {"vocabulary_transfer.json": json.dumps(summary, indent=1) + "\n",
                    # the new codec's record: train --init-from compares it with its dataset's
                    MODEL_RECORD: json.dumps(new_codec.identity, indent=1) + "\n"}
    with output_errors(args.output_dir, "--output-dir"):
        export_model_atomically(decoder, args.output_dir, WRITER, extra_files=files_beside, overwrite=args.overwrite)
    return summary


__all__ = ["VocabularyTransferArguments", "audio_files", "code_mixing_weights", "count_code_pairs", "run",
           "transfer_vocabulary"]
