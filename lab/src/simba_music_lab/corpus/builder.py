"""Building the captioned corpus: scores → MIDI → fluidsynth → fixed-length clips → manifest.jsonl."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from simba_music.audio.loudness import is_silent, normalize_loudness
from simba_music.captions.templates import (
    INSTRUMENTS,
    caption_for_row,
    check_caption_style,
    stable_fraction,
)
from simba_music.io_utils import atomic_path, atomic_write_bytes, check_output_directory, claim_output_directory
from simba_music_lab.corpus.manifest import split_for_work, write_manifest
from simba_music_lab.corpus.render import cut_clips, render_midi, resolve_soundfont
from simba_music_lab.corpus.score import read_score, to_pretty_midi
from simba_music_lab.corpus.sources import ScoreRef, list_scores

logger = logging.getLogger(__name__)

# Instruments that suit each repertoire; a work gets a deterministic subset.
INSTRUMENT_POOLS = {
    "bach-chorales": (19, 48, 52, 0, 6, 60, 71, 42),
    "essen": (73, 40, 21, 24, 46, 0, 68, 75),
    "oneills": (73, 40, 21, 109, 24, 46, 0, 75),
}
TEMPO_RANGES = {"bach-chorales": (56, 100), "essen": (72, 132), "oneills": (80, 140)}
# `spread_tempi`: every collection over every caption tempo word's band (slow < 66 <= moderate < 90 <= lively < 116
# <= fast), so that a caption's tempo cannot be guessed from the repertoire.
SPREAD_TEMPO_RANGE = (50, 150)
# `transpose`: each rendering moves by -6..+5 semitones, so that every piece is heard in every key across renderings
# and the key in a caption is the key of the audio, not a property of the piece.
TRANSPOSITIONS = tuple(range(-6, 6))


@dataclass
class CorpusConfig:
    output_dir: str
    collections: tuple[str, ...] = ("bach-chorales",)
    soundfont: str = "fluid"
    sample_rate: int = 16000
    clip_seconds: float = 10.0
    max_clips_per_render: int = 6
    instruments_per_work: int = 3
    max_works: int | None = None
    validation_fraction: float = 0.05
    test_fraction: float = 0.05
    workers: int = 1
    progress: bool = True
    audio_format: str = "flac"
    caption_style: str = field(default="templates", metadata={
        "help": "templates (fixed sentences) or paraphrases (free-form wording, partial labels)"})
    caption_seed: int = field(default=0, metadata={
        "help": "which paraphrase variant each clip gets (caption_style paraphrases)"})
    overwrite: bool = field(default=False, metadata={
        "help": "write into an output_dir that holds files the builder did not write"})
    transpose: bool = field(default=False, metadata={
        "help": "transpose each rendering by -6..+5 semitones (drawn per score and instrument), so that the keys "
                "cover all 24; captions state the rendered key"})
    spread_tempi: bool = field(default=False, metadata={
        "help": f"draw every collection's tempi from {SPREAD_TEMPO_RANGE[0]}-{SPREAD_TEMPO_RANGE[1]} BPM (all "
                "caption tempo words) instead of the repertoire's own range"})
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        if self.sample_rate < 8000:
            raise ValueError(f"sample_rate must be >= 8000, got {self.sample_rate}")
        if self.clip_seconds <= 0:
            raise ValueError(f"clip_seconds must be positive, got {self.clip_seconds}")
        if self.instruments_per_work < 1:
            raise ValueError(f"instruments_per_work must be >= 1, got {self.instruments_per_work}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.audio_format not in ("flac", "wav"):
            raise ValueError(f"audio_format must be 'flac' or 'wav', got {self.audio_format!r}")
        check_caption_style(self.caption_style)
        split_for_work("x", self.validation_fraction, self.test_fraction)


def choose_renderings(ref: ScoreRef, count: int, transpose: bool = False,
                      spread_tempi: bool = False) -> list[tuple[int, int, int]]:
    """(GM program, tempo, semitones) for each rendering of one score, fixed by its id, distinct programs."""
    pool = list(INSTRUMENT_POOLS[ref.collection])
    pool.sort(key=lambda program: stable_fraction(f"instrument:{ref.score_id}:{program}"))
    low, high = SPREAD_TEMPO_RANGE if spread_tempi else TEMPO_RANGES[ref.collection]
    chosen = []
    for program in pool[: min(count, len(pool))]:
        tempo = low + 2 * int(stable_fraction(f"tempo:{ref.score_id}:{program}") * ((high - low) // 2 + 1))
        semitones = (TRANSPOSITIONS[int(stable_fraction(f"transpose:{ref.score_id}:{program}") * len(TRANSPOSITIONS))]
                     if transpose else 0)
        chosen.append((program, tempo, semitones))
    return chosen


def transposed_key(key: str, semitones: int) -> str:
    """"F# minor" moved by `semitones`, in the corpus spelling (C#, F#, E flat, A flat, B flat)."""
    from simba_music_lab.evaluation.key import key_name, parse_key

    tonic, mode = parse_key(key)
    return key_name(tonic + semitones, mode)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _write_audio_atomically(path: Path, audio, sample_rate: int, audio_format: str) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=f".{audio_format}") as temporary:
        sf.write(temporary, audio, sample_rate, subtype="PCM_16", format=audio_format.upper())


def build_score(ref: ScoreRef, config: CorpusConfig, soundfont_path: str) -> list[dict]:
    """All clips of one score, as manifest rows; runs in a worker process."""
    info = read_score(ref)
    split = split_for_work(ref.work_id, config.validation_fraction, config.test_fraction)
    rows = []
    for program, tempo, semitones in choose_renderings(ref, config.instruments_per_work, config.transpose,
                                                       config.spread_tempi):
        midi = to_pretty_midi(info, program, tempo, semitones=semitones)
        # Manifests built without transposition keep their old ids and paths, byte for byte.
        moved = f":s{semitones}" if config.transpose else ""
        music_seconds = info.quarter_length * 60.0 / tempo
        audio = render_midi(midi, soundfont_path, config.sample_rate)
        clips = cut_clips(audio, music_seconds, config.sample_rate, config.clip_seconds, config.max_clips_per_render)
        for clip_index, (start_s, clip) in enumerate(clips):
            if is_silent(clip):
                continue
            clip = normalize_loudness(clip)
            clip_id = f"{ref.score_id}:p{program}:t{tempo}{moved}:c{clip_index}"
            relative = (Path("audio") / _safe_name(ref.score_id)
                        / f"p{program:03d}_t{tempo}{moved.replace(':', '_')}_c{clip_index}.{config.audio_format}")
            _write_audio_atomically(Path(config.output_dir) / relative, clip, config.sample_rate, config.audio_format)
            row = {
                "audio": relative.as_posix(),
                "clip_id": clip_id,
                "work_id": ref.work_id,
                "score_id": ref.score_id,
                "title": info.title,
                "collection": ref.collection,
                "genre": ref.genre,
                "composer": ref.composer,
                "instrument": INSTRUMENTS[program],
                "program": program,
                "tempo_bpm": tempo,
                "key": transposed_key(info.key, semitones) if config.transpose else info.key,
                "meter": info.meter,
                "num_parts": info.num_parts,
                "clip_index": clip_index,
                "start_seconds": round(start_s, 3),
                "duration_seconds": config.clip_seconds,
                "sample_rate": config.sample_rate,
                "split": split,
                "license": ref.license,
            }
            if config.transpose:
                row.update(transpose_semitones=semitones, score_key=info.key)
            if config.caption_style != "templates":  # template manifests keep their old fields, byte for byte
                row.update(caption_style=config.caption_style, caption_seed=config.caption_seed)
            row["caption"] = caption_for_row(row)
            rows.append(row)
    return rows


def recaption_manifest(manifest_path: str | os.PathLike, caption_style: str | None = None,
                       caption_seed: int | None = None) -> int:
    """Rewrite every caption from its row's metadata (templates may change; the audio does not), in `caption_style`
    with `caption_seed` (default: each row's own, templates for rows that name none). Returns the number of captions
    that changed."""
    if caption_style is not None:
        check_caption_style(caption_style)
    path = Path(manifest_path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    changed = 0
    for row in rows:
        style = row.get("caption_style", "templates") if caption_style is None else caption_style
        seed = row.get("caption_seed", 0) if caption_seed is None else caption_seed
        row.pop("caption_style", None)
        row.pop("caption_seed", None)
        if style != "templates":
            row.update(caption_style=style, caption_seed=seed)
        caption = caption_for_row(row)
        changed += caption != row["caption"]
        row["caption"] = caption
    write_manifest(path, rows)
    return changed


def _build_score_safely(args):
    ref, config, soundfont_path = args
    try:
        return ref.score_id, build_score(ref, config, soundfont_path), None
    except Exception as error:  # one broken score must not stop a 400-score build
        return ref.score_id, [], f"{type(error).__name__}: {error}"


def build_corpus(config: CorpusConfig) -> dict:
    """Build the corpus into ``config.output_dir``; returns (and writes) a summary."""
    config.check()
    soundfont_path = resolve_soundfont(config.soundfont)
    check_output_directory(config.output_dir, "output_dir", config.overwrite, writer="simba-music corpus build")
    refs = list_scores(config.collections, config.max_works)
    output_dir = claim_output_directory(config.output_dir, "output_dir", "simba-music corpus build", config.overwrite)
    started = time.time()
    tasks = [(ref, config, soundfont_path) for ref in refs]
    rows: list[dict] = []
    failures: dict[str, str] = {}
    from tqdm.auto import tqdm

    with tqdm(total=len(tasks), desc="rendering scores", unit="score", disable=not config.progress) as bar:
        if config.workers == 1:
            results = map(_build_score_safely, tasks)
            executor = None
        else:
            executor = ProcessPoolExecutor(max_workers=config.workers)
            results = executor.map(_build_score_safely, tasks, chunksize=1)
        try:
            for score_id, score_rows, error in results:
                rows.extend(score_rows)
                if error is not None:
                    failures[score_id] = error
                    logger.warning("skipped %s: %s", score_id, error)
                bar.update(1)
                if bar.n % 50 == 0:
                    # A partial manifest lets a long build be used (e.g. to start codec training) before it ends.
                    write_manifest(output_dir / "manifest.partial.jsonl", sorted(rows, key=lambda row: row["clip_id"]))
        finally:
            if executor is not None:
                executor.shutdown()
    rows.sort(key=lambda row: row["clip_id"])
    write_manifest(output_dir / "manifest.jsonl", rows)
    if (output_dir / "manifest.partial.jsonl").exists():
        os.unlink(output_dir / "manifest.partial.jsonl")
    summary = {
        "config": asdict(config),
        "soundfont_path": soundfont_path,
        "scores": len(refs),
        "works": len({ref.work_id for ref in refs}),
        "clips": len(rows),
        "hours": round(len(rows) * config.clip_seconds / 3600, 4),
        "clips_per_split": {s: sum(r["split"] == s for r in rows) for s in ("train", "validation", "test")},
        "works_per_split": {s: len({r["work_id"] for r in rows if r["split"] == s})
                            for s in ("train", "validation", "test")},
        "failures": failures,
        "seconds": round(time.time() - started, 2),
    }
    atomic_write_bytes(output_dir / "summary.json", json.dumps(summary, indent=2).encode("utf-8"))
    return summary
