"""Codec quality report on held-out works: mel distance and SI-SDR against two classic baselines, a chroma
(pitch-class) agreement score, note-level agreement (basic-pitch note F1), the frame-rate comb strength
(:mod:`simba_music_lab.codec.comb`), the pitch kept on a synthetic melody (:mod:`simba_music_lab.codec.melody`), and a
spectrogram figure. Works for EnCodec-format (RVQ) and one-codebook
WavTokenizer-format codecs alike, through :class:`simba_music.modeling.audio_codec.AudioCodec`.

The note F1 compares basic-pitch transcriptions of each system's output with the transcription of the original
(:mod:`simba_music_lab.codec.transcription`, :mod:`simba_music_lab.codec.note_metrics`). It needs the optional
``pip install --no-deps basic-pitch onnxruntime``; without it the report says so and leaves the column empty.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from simba_music.io_utils import atomic_write_bytes, check_output_directory, claim_output_directory
from simba_music.training.manifest import read_manifest
from simba_music_lab.codec.baselines import chroma_similarity, mu_law_8bit, telephone_band
from simba_music_lab.codec.comb import comb_strength
from simba_music_lab.codec.losses import mel_distance, si_sdr
from simba_music_lab.codec.melody import GRID_HZ, MELODY_NOTES, MELODY_SEEDS, TOLERANCE_CENTS, melody_pitch_kept
from simba_music_lab.codec.note_metrics import note_f1
from simba_music_lab.codec.transcription import NoteTranscriber, transcription_unavailable_reason

NOTE_F1_DEFINITION = (
    "Note F1: basic-pitch (ONNX) transcription of each output against that of the original; a note matches when the "
    "MIDI pitch is equal and the onsets are within 50 ms, offsets ignored, one-to-one (maximum matching). "
    "Mean over clips / pooled over all notes."
)


MELODY_DEFINITION = (
    f"Melody: {len(MELODY_SEEDS)} seeded synthetic {MELODY_NOTES}-note melodies of harmonic tones (MIDI 55-79, "
    f"0.25 s each) through each system; the share of all their notes whose estimated fundamental is within "
    f"{TOLERANCE_CENTS:g} cents of the written pitch (codec/melody.py). report.json adds, as "
    f"missed_on_frame_grid, the share of the missed notes estimated within {GRID_HZ:g} Hz of a multiple of the "
    f"frame rate, where a decoder that repeats its frames' phase puts them."
)


COMB_DEFINITION = (
    "Comb strength: correlation of the detrended long-term spectrum (4 Hz bins, up to 4 kHz) with a comb at "
    "multiples of the codec's frame rate; about 0 for real music, near 1 for a frame-rate buzz."
)


def reconstruct(codec, audio: np.ndarray) -> np.ndarray:
    """Mono ``audio`` through ``codec`` (an ``AudioCodec``: its ``num_codebooks`` decide the codebooks used), mono
    again: a stereo codec gets the same signal on both channels and gives back their mean."""
    waveform = torch.from_numpy(audio)[None, None].repeat(1, codec.channels, 1)
    decoded = codec.decode(codec.encode(waveform))
    return decoded[0, :, : audio.shape[0]].mean(0).cpu().numpy()


def _metrics(prediction: np.ndarray, reference: np.ndarray, sample_rate: int, frame_rate: float) -> dict:
    p, r = torch.from_numpy(prediction)[None], torch.from_numpy(reference)[None]
    return {
        "mel_distance": float(mel_distance(p, r, sample_rate)[0]),
        "si_sdr_db": float(si_sdr(p, r)[0]),
        "chroma_similarity": chroma_similarity(prediction, reference, sample_rate),
        "comb_strength": comb_strength(prediction, sample_rate, frame_rate),
    }


def _plot(path: Path, signals: dict[str, np.ndarray], sample_rate: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    figure, axes = plt.subplots(len(signals), 1, figsize=(10, 2.4 * len(signals)), sharex=True)
    for axis, (name, signal) in zip(axes, signals.items(), strict=True):
        axis.specgram(signal, NFFT=1024, Fs=sample_rate, noverlap=768, cmap="magma", vmin=-120)
        axis.set_ylabel("Hz")
        axis.set_title(name)
    axes[-1].set_xlabel("seconds")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=80)
    plt.close(figure)
    # A spectrogram is noise-like to PNG's compressor: 64 palette colours make the file about a quarter the size
    # (608 -> 158 KB for three 10-s panels).
    image = Image.open(buffer).convert("RGB").quantize(colors=64)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    atomic_write_bytes(path, buffer.getvalue())


def _key_round_trip(first, every, rate: int, soundfont: str) -> dict:
    from simba_music_lab.codec.key_round_trip import key_round_trip, render_key_set

    excerpts = render_key_set(soundfont, rate)
    codecs = {"codec_first_codebook": first, **({"codec_all_codebooks": every} if every.num_codebooks > 1 else {})}
    return {name: key_round_trip(codec, excerpts) for name, codec in codecs.items()}


def _key_round_trip_lines(results: dict) -> list[str]:
    from simba_music_lab.codec.key_round_trip import __doc__ as definition

    estimators = [name for name, value in next(iter(results.values()))["summary"].items() if isinstance(value, dict)]
    lines = ["## Keys through the round trip", "",
             "| system | " + " | ".join(f"keys kept ({name}) ↑ | distinct keys ({name})" for name in estimators)
             + " | comb (originals) ↓ |",
             "|---|" + "---|---|" * len(estimators) + "---|"]
    for name, result in results.items():
        summary = result["summary"]
        cells = [f"{summary[e]['keys_kept']} / {summary['excerpts']} | {summary[e]['distinct_keys_round_trip']}"
                 for e in estimators]
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {summary['comb_round_trip']:.2f} ({summary['comb_original']:.2f}) |")
    calibration = next(iter(results.values()))["summary"]
    lines += ["", "Estimators on the originals (against the rendered key): " + ", ".join(
        f"{name} {calibration[name]['accuracy_on_originals']} / {calibration['excerpts']}" for name in estimators)
        + ".", "", " ".join(definition.split()), ""]
    return lines


def codec_report(model_dir: str, manifest: str, output_dir: str, split: str = "test", max_clips: int = 40,
                 overwrite: bool = False, key_set_soundfont: str | None = None) -> dict:
    """Evaluate ``model_dir`` on up to ``max_clips`` clips of ``split`` (spread over works); writes report.json/.md.
    ``key_set_soundfont`` (a `corpus build` soundfont: 'fluid', 'timgm6mb' or a .sf2 path): also render the 16-key
    set and report the keys the codec keeps and its comb beside the originals' (:mod:`.key_round_trip`)."""
    import soundfile as sf
    from transformers import AutoModel

    from simba_music.modeling.audio_codec import AudioCodec

    if max_clips < 1:
        raise ValueError(f"max_clips must be >= 1, got {max_clips}")
    check_output_directory(output_dir, "output_dir", overwrite, inputs=(model_dir, manifest),
                           writer="simba-music codec report")
    if key_set_soundfont is not None:  # before any work: a missing renderer or soundfont fails now
        from simba_music_lab.corpus.render import fluidsynth_available, resolve_soundfont

        if not fluidsynth_available():
            raise ValueError("key_set_soundfont: the key set is rendered with fluidsynth, which is not on PATH "
                             "(apt-get install fluidsynth)")
        key_set_soundfont = resolve_soundfont(key_set_soundfont)
    model = AutoModel.from_pretrained(model_dir).eval()
    first = AudioCodec(model, 1)
    every = AudioCodec(model, first.max_codebooks)
    rate, frame_rate = first.sampling_rate, first.frame_rate
    rows = read_manifest(manifest, split)
    if not rows:
        raise ValueError(f"split: no rows for {split!r} in {manifest}")
    picks = np.linspace(0, len(rows) - 1, num=min(max_clips, len(rows))).round().astype(int)
    systems = {"codec_first_codebook": lambda a: reconstruct(first, a)}
    if every.num_codebooks > 1:
        systems["codec_all_codebooks"] = lambda a: reconstruct(every, a)
    systems.update({"mu_law_8bit": mu_law_8bit, "telephone_300_3400": lambda a: telephone_band(a, rate),
                    "original": lambda a: a})
    unavailable = transcription_unavailable_reason()
    transcriber = None if unavailable else NoteTranscriber(threads=torch.get_num_threads())
    per_system: dict[str, list[dict]] = {name: [] for name in systems}
    note_counts = {name: np.zeros(3, dtype=np.int64) for name in systems}  # matched, reference, estimated
    output = claim_output_directory(output_dir, "output_dir", "simba-music codec report", overwrite)
    for count, index in enumerate(picks):
        audio, file_rate = sf.read(rows[index]["audio"], dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if file_rate != rate:
            raise ValueError(f"manifest: {rows[index]['audio']} is {file_rate} Hz, the codec expects {rate} Hz")
        outputs = {name: system(audio) for name, system in systems.items()}
        reference_notes = transcriber.transcribe(audio, rate) if transcriber else None
        for name, prediction in outputs.items():
            metrics = _metrics(prediction, audio, rate, frame_rate)
            if transcriber:
                agreement = note_f1(reference_notes, transcriber.transcribe(prediction, rate))
                metrics["note_f1"] = agreement["f1"]
                note_counts[name] += [agreement[k] for k in ("matched", "reference_notes", "estimated_notes")]
            per_system[name].append(metrics)
        if count == 0:
            _plot(
                output / "spectrograms.png",
                {"original": audio, "codec, first codebook": outputs["codec_first_codebook"],
                 **({"codec, all codebooks": outputs["codec_all_codebooks"]} if every.num_codebooks > 1 else {})},
                rate,
            )  # fmt: skip
    summary = {
        name: {key: round(float(np.mean([m[key] for m in values])), 4) for key in values[0]}
        for name, values in per_system.items()
    }
    melody = {name: melody_pitch_kept(system, rate, frame_rate=frame_rate) for name, system in systems.items()}
    bits = math.log2(first.codebook_size)
    kbps = {
        "codec_first_codebook": round(frame_rate * bits / 1000, 6),
        "codec_all_codebooks": round(frame_rate * bits * every.num_codebooks / 1000, 6),
        "mu_law_8bit": rate * 8 / 1000,
        "telephone_300_3400": 64.0,
        "original": rate * 16 / 1000,
    }
    kbps = {name: kbps[name] for name in systems}
    if transcriber:
        notes = {
            "definition": NOTE_F1_DEFINITION,
            "pooled_f1": {
                name: round(2 * int(counts[0]) / max(int(counts[1] + counts[2]), 1), 4)
                for name, counts in note_counts.items()
            },
            "reference_notes": int(note_counts["mu_law_8bit"][1]),
            "estimated_notes": {name: int(counts[2]) for name, counts in note_counts.items()},
        }
        note_line = f"{NOTE_F1_DEFINITION} Original transcriptions hold {notes['reference_notes']} notes."
    else:
        notes = f"not computed: {unavailable}"
        note_line = f"Note F1 {notes}."
    report = {
        "model_dir": os.path.abspath(model_dir),
        "codec_format": model.config.model_type,
        "frame_rate": frame_rate,
        "manifest": os.path.abspath(manifest),
        "split": split,
        "clips": len(picks),
        "works": len({rows[i]["work_id"] for i in picks if "work_id" in rows[i]}),
        "kbps": kbps,
        "mean": summary,
        "note_f1": notes,
        "melody": melody,
    }
    lines = [
        f"# Codec report ({split} split, {report['clips']} clips from {report['works']} works)",
        "",
        "| system | kbit/s | mel distance ↓ | SI-SDR dB ↑ | chroma similarity ↑ | note F1 ↑ (mean / pooled) | comb ↓ "
        "| melody ↑ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, values in summary.items():
        f1 = f"{values['note_f1']:.3f} / {notes['pooled_f1'][name]:.3f}" if transcriber else "n/a"
        lines.append(
            f"| {name} | {kbps[name]:g} | {values['mel_distance']:.3f} | {values['si_sdr_db']:.2f} | "
            f"{values['chroma_similarity']:.3f} | {f1} | {values['comb_strength']:.3f} | "
            f"{melody[name]['kept_within_50_cents']:.0%} |"
        )
    lines += ["", note_line, "", COMB_DEFINITION, "", MELODY_DEFINITION, ""]
    if key_set_soundfont is not None:
        report["key_round_trip"] = _key_round_trip(first, every, rate, key_set_soundfont)
        lines += _key_round_trip_lines(report["key_round_trip"])
    atomic_write_bytes(output / "report.json", json.dumps(report, indent=2).encode("utf-8"))
    atomic_write_bytes(output / "report.md", "\n".join(lines).encode("utf-8"))
    return report
