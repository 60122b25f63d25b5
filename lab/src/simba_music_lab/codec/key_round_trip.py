"""Does a codec keep the key? Real scores rendered in 16 keys, sent through the codec, judged by estimators this
project did not write, each first calibrated on the renders themselves (no codec).

- The set: four Bach chorales from music21's corpus (bwv269, bwv26.6 and bwv253, analysed major/minor by music21, and
  bwv4.8), each transposed into four keys so that the 16 excerpts cover 8 major and 8 minor keys, rendered with
  fluidsynth (organ, piano, strings, choir), the first 10 s after the leading silence, peak 0.7.
- Key: librosa's chroma-CQT averaged over the excerpt against the Krumhansl-Kessler profiles in all 24 rotations;
  and essentia's `KeyExtractor` where essentia is installed (AGPL-3.0: never a dependency, an optional second
  opinion). An estimator's *accuracy* is measured on the renders against the rendered key; *keys kept* counts the
  excerpts whose round trip gets the same key (tonic and mode) from it as their original.
- Comb: the long-term average spectrum (Hann, 1 Hz bins, hop a quarter second); the geometric mean over k = 2..80 of
  the power within +-2 Hz of k x frame rate over the power within +-2 Hz of (k + 0.5) x frame rate. Music tuned to
  A440 gives about 1 (the renders: 1.06); a decoder that repeats its frames' phase lays a comb at the frame rate
  (the old chorale codec: 171). The geometric mean over the excerpts, beside the originals' own.

A codec that turns everything into one key cannot hide behind a weak estimator here: the estimator's accuracy on
the originals is reported apart from what the codec loses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simba_music_lab.codec.comb import comb_ratio
from simba_music_lab.evaluation.key import MAJOR_PROFILE, MINOR_PROFILE, parse_key

KEY_SET_WORKS = ("bach/bwv269", "bach/bwv26.6", "bach/bwv253", "bach/bwv4.8")
# Target tonics (pitch classes) of each work, by its mode: two major and two minor works give 8 + 8 keys.
MAJOR_TARGETS = ((0, 3, 6, 9), (2, 5, 8, 11))
MINOR_TARGETS = ((9, 0, 3, 6), (4, 7, 10, 1))
KEY_SET_PROGRAMS = (19, 0, 48, 52)  # church organ, piano, string ensemble, choir
EXCERPT_SECONDS, PEAK = 10.0, 0.7


@dataclass(frozen=True)
class KeyExcerpt:
    name: str
    audio: np.ndarray  # mono float32
    tonic: int  # pitch class of the rendered key
    mode: str  # "major" / "minor"


def render_key_set(soundfont: str = "fluid", sample_rate: int = 16000, works=KEY_SET_WORKS) -> list[KeyExcerpt]:
    """The 16 excerpts (4 per work); `soundfont` as `corpus build` takes it."""
    from simba_music_lab.corpus.render import render_midi, resolve_soundfont
    from simba_music_lab.corpus.score import read_score, to_pretty_midi
    from simba_music_lab.corpus.sources import list_scores

    soundfont = resolve_soundfont(soundfont)
    refs = {ref.work_id: ref for ref in list_scores(["bach-chorales"])}
    missing = [work for work in works if work not in refs]
    if missing:
        raise ValueError(f"works: not in music21's Bach chorales: {missing}")
    targets = {"major": list(MAJOR_TARGETS), "minor": list(MINOR_TARGETS)}
    excerpts = []
    for index, work in enumerate(works):
        info = read_score(refs[work])
        tonic, mode = parse_key(info.key)
        if not targets[mode]:
            raise ValueError(f"works: at most {len(MAJOR_TARGETS)} works of each mode; {work} is one more {mode}")
        for position, target in enumerate(targets[mode].pop(0)):
            shift = (target - tonic) % 12
            shift = shift - 12 if shift > 6 else shift
            program = KEY_SET_PROGRAMS[(index + position) % len(KEY_SET_PROGRAMS)]
            audio = render_midi(to_pretty_midi(info, program, 90.0, semitones=shift), soundfont, sample_rate)
            excerpts.append(KeyExcerpt(f"{work.split('/')[-1]}_{target}_{mode}", _excerpt(audio, sample_rate),
                                       target, mode))
    return excerpts


def first_audible_sample(audio: np.ndarray, threshold: float = 1e-3) -> int:
    """Index of the first sample louder than `threshold` (renders open with silence), 0 for silent audio."""
    above = np.flatnonzero(np.abs(audio) > threshold)
    return int(above[0]) if above.size else 0


def _excerpt(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    length = int(round(EXCERPT_SECONDS * sample_rate))
    audio = audio[first_audible_sample(audio):][:length]
    audio = np.pad(audio, (0, length - audio.shape[0]))
    return (audio / max(1e-6, float(np.abs(audio).max())) * PEAK).astype(np.float32)


def key_librosa(audio: np.ndarray, sample_rate: int) -> tuple[int, str]:
    """(tonic pitch class, mode): librosa's chroma-CQT, time-averaged, best-correlated Krumhansl-Kessler profile."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=np.asarray(audio, dtype=np.float32), sr=sample_rate).mean(axis=1)
    scores = [(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1], tonic, mode)
              for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)) for tonic in range(12)]
    _, tonic, mode = max(scores)
    return tonic, mode


def key_essentia(audio: np.ndarray, sample_rate: int) -> tuple[int, str]:
    """(tonic pitch class, mode) from essentia's KeyExtractor (installed by the user: AGPL-3.0)."""
    import essentia.standard as essentia_standard

    key, scale, _ = essentia_standard.KeyExtractor(sampleRate=sample_rate)(np.asarray(audio, dtype=np.float32))
    return parse_key(f"{key} {scale}")


def available_estimators() -> dict:
    """librosa always (a lab dependency); essentia where the user installed it."""
    estimators = {"librosa": key_librosa}
    try:
        import essentia.standard  # noqa: F401
    except ImportError:
        return estimators
    return {**estimators, "essentia": key_essentia}


def key_round_trip(codec, excerpts: list[KeyExcerpt], estimators: dict | None = None) -> dict:
    """Each estimator's accuracy on the originals, the keys the codec keeps (by each estimator) and the comb ratio of
    the originals and of the round trips. `codec`: an `AudioCodec` (its `num_codebooks` are used)."""
    from simba_music_lab.codec.report import reconstruct

    estimators = available_estimators() if estimators is None else estimators
    rate, frame_rate = codec.sampling_rate, codec.frame_rate
    rows = []
    for excerpt in excerpts:
        round_trip = reconstruct(codec, excerpt.audio)
        row = {"excerpt": excerpt.name, "rendered_key": [excerpt.tonic, excerpt.mode],
               "comb_original": comb_ratio(excerpt.audio, rate, frame_rate),
               "comb_round_trip": comb_ratio(round_trip, rate, frame_rate)}
        for name, estimate in estimators.items():
            original, decoded = estimate(excerpt.audio, rate), estimate(round_trip, rate)
            row[name] = {"original": list(original), "round_trip": list(decoded),
                         "original_correct": original == (excerpt.tonic, excerpt.mode), "kept": decoded == original}
        rows.append(row)

    def geometric_mean(values) -> float:
        return float(np.exp(np.mean(np.log(values))))

    summary = {"excerpts": len(rows), "codebooks": codec.num_codebooks,
               "comb_original": geometric_mean([row["comb_original"] for row in rows]),
               "comb_round_trip": geometric_mean([row["comb_round_trip"] for row in rows])}
    for name in estimators:
        summary[name] = {"accuracy_on_originals": sum(row[name]["original_correct"] for row in rows),
                         "keys_kept": sum(row[name]["kept"] for row in rows),
                         "distinct_keys_round_trip": len({tuple(row[name]["round_trip"]) for row in rows})}
    return {"summary": summary, "excerpts": rows}


__all__ = ["KEY_SET_WORKS", "KeyExcerpt", "available_estimators", "first_audible_sample", "key_essentia", "key_librosa",
           "key_round_trip", "render_key_set"]
