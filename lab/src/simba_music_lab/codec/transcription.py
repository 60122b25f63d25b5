"""Audio -> note events (onset s, offset s, MIDI pitch) with basic-pitch's ONNX model, run by onnxruntime.

Only the model file comes from the ``basic-pitch`` package. Its Python inference path imports librosa, resampy and
mir_eval (and its PyPI metadata pins tensorflow on Linux/Python >= 3.11), so the package is installed with
``pip install --no-deps basic-pitch onnxruntime`` and never imported: :func:`basic_pitch_model_path` finds the
package folder with ``importlib.util.find_spec`` and the glue around the network is written here:

* windowing: audio resampled to 22,050 Hz (polyphase, ``simba_music.audio.resample``), front-padded by half the window
  overlap, cut into the network's fixed 43,844-sample windows with 30 frames (7,680 samples) of overlap; 15 frames are
  dropped at each window edge and the rest are concatenated (:func:`frame_times` gives each frame's time);
* decoding (:func:`decode_notes`): onsets are time-local peaks of the onset posteriorgram (or of sudden rises in the
  note posteriorgram) above ``onset_threshold``; each note is followed forward while the note posteriorgram stays
  above ``frame_threshold``, tolerating short dips; later onsets are decoded first so a repeated pitch splits; then
  note energy left without any onset is turned into notes too (peak first, followed both ways). Notes no longer
  than ``min_note_frames`` (11 frames, ~128 ms) are dropped. Thresholds default to basic-pitch's ``predict``
  defaults (onset 0.5, frame 0.3, inferred onsets and its "melodia trick" on). Pitch bends and amplitudes are not
  decoded (the note F1 uses neither).

Checked against basic-pitch 0.4.0's own ``predict`` (ONNX backend, librosa installed in a scratch environment): on
the same posteriorgrams the decoded (start, end, pitch) sets are identical; from the FLAC files, where basic-pitch
resamples with librosa/soxr and this module with ``resample_poly``, note F1 between the two is 0.989 (12 test clips).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simba_music.audio import resample

MODEL_SAMPLE_RATE = 22050
FRAME_HOP = 256  # samples at 22,050 Hz per output frame
WINDOW_SAMPLES = 2 * MODEL_SAMPLE_RATE - FRAME_HOP  # 43,844: the ONNX input length
WINDOW_FRAMES = 172  # output frames per window
OVERLAP_FRAMES = 30
LOWEST_MIDI_PITCH = 21  # output bin 0 is A0; 88 bins
INSTALL_HINT = "pip install --no-deps basic-pitch onnxruntime"


def basic_pitch_model_path() -> Path:
    """The ``nmp.onnx`` file inside the installed basic-pitch package, found without importing the package."""
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"basic-pitch is not installed; install it with `{INSTALL_HINT}`")
    path = Path(next(iter(spec.submodule_search_locations))) / "saved_models" / "icassp_2022" / "nmp.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"basic-pitch is installed but {path} is missing")
    return path


def transcription_unavailable_reason() -> str | None:
    """None when :class:`NoteTranscriber` can run here, else a one-line reason with the install command."""
    if importlib.util.find_spec("onnxruntime") is None:
        return f"onnxruntime is not installed (`{INSTALL_HINT}`)"
    try:
        basic_pitch_model_path()
    except (ImportError, FileNotFoundError) as error:
        return str(error)
    return None


def frame_times(num_frames: int) -> np.ndarray:
    """Seconds at which each concatenated output frame sits.

    A window advances by 36,164 samples but contributes 142 frames of 256 (36,352 samples), so each window boundary
    moves the frame grid back by 188 samples (8.5 ms); the times here undo that drift.
    """
    kept = WINDOW_FRAMES - OVERLAP_FRAMES
    hop = WINDOW_SAMPLES - OVERLAP_FRAMES * FRAME_HOP
    frames = np.arange(num_frames)
    return (frames * FRAME_HOP - (frames // kept) * (kept * FRAME_HOP - hop)) / MODEL_SAMPLE_RATE


def _extend(energy: np.ndarray, start: int, step: int, threshold: float, max_gap: int) -> tuple[int, int]:
    """From ``start``, walk by ``step`` until ``max_gap`` frames in a row are below ``threshold``.

    Returns (the last index walked whose energy is at or above the threshold, else ``start``; the last index walked,
    else ``start``). The walk never visits the first or the last frame, as basic-pitch's decoder does not.
    """
    last_above, gap, index = start, 0, start + step
    while 0 < index < energy.shape[0] - 1 and gap < max_gap:
        if energy[index] >= threshold:
            last_above, gap = index, 0
        else:
            gap += 1
        index += step
    return last_above, index - step


def _onset_strength(onsets: np.ndarray, notes: np.ndarray) -> np.ndarray:
    """Onset posteriorgram, raised where the note posteriorgram jumps up (over one and over two frames)."""
    previous_one = np.vstack([np.zeros((1, notes.shape[1])), notes[:-1]])
    previous_two = np.vstack([np.zeros((2, notes.shape[1])), notes[:-2]])
    rise = np.clip(np.minimum(notes - previous_one, notes - previous_two), 0.0, None)
    rise[:2] = 0.0
    if rise.max() > 0:
        rise *= onsets.max() / rise.max()
    return np.maximum(onsets, rise)


def decode_notes(
    onsets: np.ndarray,
    notes: np.ndarray,
    onset_threshold: float = 0.5,
    frame_threshold: float = 0.3,
    min_note_frames: int = 11,
    max_gap_frames: int = 11,
    onsets_from_rises: bool = True,
    notes_without_onsets: bool = True,
) -> list[tuple[int, int, int]]:
    """(start frame, end frame exclusive, MIDI pitch) from (frames, 88) onset and note posteriorgrams."""
    if onsets.shape != notes.shape or onsets.ndim != 2:
        raise ValueError(f"onsets and notes must be equal (frames, pitches) arrays, got {onsets.shape}, {notes.shape}")
    num_frames = notes.shape[0]
    strength = _onset_strength(onsets, notes) if onsets_from_rises else onsets
    peak = np.zeros(strength.shape, dtype=bool)
    peak[1:-1] = (strength[1:-1] > strength[:-2]) & (strength[1:-1] > strength[2:])
    starts, pitches = np.nonzero(peak & (strength >= onset_threshold))
    energy = notes.astype(np.float64, copy=True)
    events = []

    def clear(first: int, end: int, pitch: int) -> None:
        """Remove frames [first, end) of this pitch and its two neighbours from the energy left to explain."""
        energy[first:end, max(pitch - 1, 0) : pitch + 2] = 0.0

    for order in np.lexsort((pitches, starts))[::-1]:  # latest onset first: a repeated pitch splits
        start, pitch = int(starts[order]), int(pitches[order])
        if start >= num_frames - 1:
            continue
        end = _extend(energy[:, pitch], start, +1, frame_threshold, max_gap_frames)[0] + 1
        if end - start > min_note_frames:
            clear(start, end, pitch)
            events.append((start, end, pitch + LOWEST_MIDI_PITCH))

    # Energy no onset explains, strongest first. As in basic-pitch, everything walked over is cleared, and the
    # note ends at (excludes) the last frame above the threshold.
    while notes_without_onsets and energy.max() > frame_threshold:
        middle, pitch = (int(i) for i in np.unravel_index(int(np.argmax(energy)), energy.shape))
        first, walked_back = _extend(energy[:, pitch], middle, -1, frame_threshold, max_gap_frames)
        last, walked_forward = _extend(energy[:, pitch], middle, +1, frame_threshold, max_gap_frames)
        energy[middle, pitch] = 0.0  # the loop always ends
        clear(walked_back, middle, pitch)
        clear(middle + 1, walked_forward + 1, pitch)
        if last - first > min_note_frames:
            events.append((first, last, pitch + LOWEST_MIDI_PITCH))
    return sorted(events)


@dataclass
class NoteTranscriber:
    """basic-pitch's network in an onnxruntime session (built on first use); ``threads`` bounds its CPU use."""

    threads: int = 1
    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    min_note_frames: int = 11  # ~128 ms, basic-pitch's default minimum note length
    model_path: str | None = None

    def __post_init__(self) -> None:
        self._session = None

    def _run(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = self.threads
            path = self.model_path or str(basic_pitch_model_path())
            self._session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        # basic-pitch's ONNX export names its outputs by position: :0 contour, :1 note, :2 onset.
        notes, onsets = self._session.run(
            ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"],
            {self._session.get_inputs()[0].name: windows[..., None]},
        )
        return onsets, notes

    def posteriorgrams(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """(onsets, notes), each (frames, 88) in [0, 1]; :func:`frame_times` gives the frames' times."""
        audio = np.asarray(audio, dtype=np.float64)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (samples,), got shape {audio.shape}")
        if sample_rate != MODEL_SAMPLE_RATE:
            audio = resample(audio, sample_rate, MODEL_SAMPLE_RATE)
        num_frames = audio.shape[0] * WINDOW_FRAMES // (2 * MODEL_SAMPLE_RATE)  # floor(samples * 86 / 22050)
        half_overlap = OVERLAP_FRAMES // 2
        hop = WINDOW_SAMPLES - OVERLAP_FRAMES * FRAME_HOP
        padded = np.concatenate([np.zeros(half_overlap * FRAME_HOP), audio])
        starts = range(0, max(padded.shape[0], 1), hop)
        windows = np.zeros((len(starts), WINDOW_SAMPLES), dtype=np.float32)
        for row, start in enumerate(starts):
            piece = padded[start : start + WINDOW_SAMPLES]
            windows[row, : piece.shape[0]] = piece
        onsets, notes = self._run(windows)
        keep = slice(half_overlap, WINDOW_FRAMES - half_overlap)
        return (
            onsets[:, keep].reshape(-1, onsets.shape[-1])[:num_frames],
            notes[:, keep].reshape(-1, notes.shape[-1])[:num_frames],
        )

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """(notes, 3) float array of [onset seconds, offset seconds, MIDI pitch], sorted by onset."""
        onsets, notes = self.posteriorgrams(audio, sample_rate)
        events = decode_notes(
            onsets,
            notes,
            onset_threshold=self.onset_threshold,
            frame_threshold=self.frame_threshold,
            min_note_frames=self.min_note_frames,
        )
        times = frame_times(notes.shape[0] + 1)
        result = np.array([(times[s], times[e], p) for s, e, p in events], dtype=np.float64).reshape(-1, 3)
        return result[np.argsort(result[:, 0], kind="stable")]
