import numpy as np
import pytest

from simba_music_lab.codec.note_metrics import note_f1
from simba_music_lab.codec.transcription import (
    LOWEST_MIDI_PITCH,
    NoteTranscriber,
    decode_notes,
    frame_times,
    transcription_unavailable_reason,
)

FRAMES, PITCHES = 200, 88


def posteriorgrams():
    return np.zeros((FRAMES, PITCHES)), np.zeros((FRAMES, PITCHES))


def test_decoder_follows_an_onset_until_the_note_fades():
    onsets, notes = posteriorgrams()
    pitch = 60 - LOWEST_MIDI_PITCH
    onsets[9:12, pitch] = [0.3, 0.9, 0.3]
    notes[10:50, pitch] = 0.8
    notes[30:34, pitch] = 0.1  # a short dip does not end the note ...
    assert decode_notes(onsets, notes, onsets_from_rises=False) == [(10, 50, 60)]
    # ... unless the jump back up counts as an onset (basic-pitch's inferred onsets, on by default).
    assert decode_notes(onsets, notes) == [(10, 30, 60), (34, 50, 60)]
    # A dip longer than max_gap_frames ends it; the rest becomes an onset-less note, ending before its last frame.
    assert decode_notes(onsets, notes, max_gap_frames=3, onsets_from_rises=False) == [(10, 30, 60), (34, 49, 60)]
    assert decode_notes(onsets, notes, 0.5, max_gap_frames=3, onsets_from_rises=False, notes_without_onsets=False) == [
        (10, 30, 60)
    ]


def test_decoder_splits_repeated_notes_and_drops_short_ones():
    onsets, notes = posteriorgrams()
    pitch = 67 - LOWEST_MIDI_PITCH
    notes[20:80, pitch] = 0.9
    onsets[20, pitch] = onsets[50, pitch] = 0.8
    onsets[[19, 21, 49, 51], pitch] = 0.1
    assert decode_notes(onsets, notes, onsets_from_rises=False) == [(20, 50, 67), (50, 80, 67)]
    short_onsets, short_notes = posteriorgrams()
    short_notes[100:108, pitch] = 0.9  # 8 frames, under the 11-frame minimum
    short_onsets[100, pitch] = 0.9
    assert decode_notes(short_onsets, short_notes) == []
    with pytest.raises(ValueError, match="equal"):
        decode_notes(onsets, notes[:, :10])


def test_frame_times_undo_the_window_drift():
    times = frame_times(300)
    assert times[141] == pytest.approx(141 * 256 / 22050)
    assert times[142] == pytest.approx(36164 / 22050)  # first kept frame of window 2 starts at its hop
    assert np.all(np.diff(times) > 0)


@pytest.mark.skipif(transcription_unavailable_reason() is not None, reason=str(transcription_unavailable_reason()))
def test_transcribes_a_sine_melody():
    sample_rate = 16000
    melody = [60, 64, 67, 72, 69, 65, 62, 57]
    pieces, truth, position = [np.zeros(sample_rate // 4)], [], 0.25
    for midi in melody:
        t = np.arange(int(0.5 * sample_rate)) / sample_rate
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-3 * t)
        pieces += [0.3 * envelope * np.sin(2 * np.pi * 440.0 * 2 ** ((midi - 69) / 12) * t), np.zeros(1600)]
        truth.append((position, position + 0.5, midi))
        position += 0.6
    audio = np.concatenate(pieces).astype(np.float32)
    found = NoteTranscriber(threads=1).transcribe(audio, sample_rate)
    assert [int(p) for p in found[:, 2]] == melody
    assert note_f1(truth, found)["f1"] == 1.0  # every onset within 50 ms
    assert NoteTranscriber().transcribe(np.zeros(sample_rate, dtype=np.float32), sample_rate).shape == (0, 3)
