"""Reading a music21 score: the metadata captions need, and a pretty_midi rendering of its notes."""

from __future__ import annotations

from dataclasses import dataclass

from simba_music_lab.corpus.sources import ScoreRef


@dataclass(frozen=True)
class ScoreInfo:
    title: str
    key: str
    meter: str
    num_parts: int
    quarter_length: float
    # (part index, pitch, onset in quarters, duration in quarters), ties merged.
    notes: tuple[tuple[int, int, float, float], ...]


def _parse(ref: ScoreRef):
    from music21 import converter

    if ref.number is None:
        return converter.parse(ref.path)
    return converter.parse(ref.path, number=ref.number)


def read_score(ref: ScoreRef) -> ScoreInfo:
    """Parse once and extract everything later stages need, so worker processes return plain data."""
    score = _parse(ref)
    if hasattr(score, "scores"):  # an ABC opus parse; with ``number`` it should already be one score
        score = score.scores[0]
    key = score.analyze("key")
    key_name = f"{key.tonic.name.replace('-', ' flat')} {key.mode}"
    time_signature = score.recurse().getElementsByClass("TimeSignature").first()
    meter = time_signature.ratioString if time_signature is not None else "4/4"
    title = (score.metadata.title if score.metadata is not None else None) or ref.score_id.split("/")[-1]

    stripped = score.stripTies()
    parts = list(stripped.parts) or [stripped]
    notes = []
    for part_index, part in enumerate(parts):
        for element in part.flatten().notes:
            onset = float(element.offset)
            duration = float(element.quarterLength)
            if duration <= 0:  # grace notes carry no time of their own
                continue
            for pitch in element.pitches:
                notes.append((part_index, int(pitch.midi), onset, duration))
    if not notes:
        raise ValueError(f"score {ref.score_id} has no notes")
    end = max(onset + duration for _, _, onset, duration in notes)
    return ScoreInfo(
        title=str(title),
        key=key_name,
        meter=meter,
        num_parts=len(parts),
        quarter_length=end,
        notes=tuple(notes),
    )


def to_pretty_midi(info: ScoreInfo, program: int, tempo_bpm: float, velocity: int = 80, semitones: int = 0):
    """All parts on one GM program (one instrument per rendering), one MIDI track per part, every note moved by
    `semitones`."""
    import pretty_midi

    if not 0 <= program <= 127:
        raise ValueError(f"program must be a General MIDI program 0..127, got {program}")
    if tempo_bpm <= 0:
        raise ValueError(f"tempo_bpm must be positive, got {tempo_bpm}")
    pitches = [pitch + semitones for _, pitch, _, _ in info.notes]
    if not 0 <= min(pitches) <= max(pitches) <= 127:
        raise ValueError(f"semitones: {semitones:+d} moves the notes outside MIDI 0..127")
    seconds_per_quarter = 60.0 / tempo_bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo_bpm)
    tracks = [pretty_midi.Instrument(program=program, name=f"part{i}") for i in range(info.num_parts)]
    for part_index, pitch, onset, duration in info.notes:
        start = onset * seconds_per_quarter
        # A small gap keeps repeated notes audibly re-attacked.
        end = start + max(duration * seconds_per_quarter - 0.01, 0.02)
        tracks[part_index].notes.append(pretty_midi.Note(velocity=velocity, pitch=pitch + semitones, start=start,
                                                         end=end))
    midi.instruments.extend(track for track in tracks if track.notes)
    return midi
