"""Render the A/B sets: test chorales in 16 keys, I-IV-V-I cadences in 8 keys, a 50 Hz pulse train, training renders.

python render.py eval            -> data/eval/*.wav + data/eval/meta.json
python render.py train N AUG     -> data/train_{aug|noaug}/*.wav  (N clips; AUG=1 random transposition -6..+5)
"""

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
from music21 import converter, corpus

SR = 16000
SECONDS = 10.0
SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
TEST_WORKS = ["bwv269", "bwv26.6", "bwv253", "bwv4.8"]  # held out from every training set (by work)
PROGRAMS = [19, 0, 48, 52, 71, 42, 56, 73]  # organ, piano, strings, choir, clarinet, cello, trumpet, flute


def pitch_class(name):
    name = name.replace("-", "b")
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[name[0].upper()]
    for ch in name[1:]:
        base += 1 if ch == "#" else -1 if ch == "b" else 0
    return base % 12


def synth(pm, path, program):
    for inst in pm.instruments:
        inst.program = program
        inst.is_drum = False
    with tempfile.TemporaryDirectory() as tmp:
        mid = os.path.join(tmp, "x.mid")
        wav = os.path.join(tmp, "x.wav")
        pm.write(mid)
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-F", wav, SF2, mid],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        audio, sr = sf.read(wav, always_2d=True)
    assert sr == SR
    audio = audio.mean(axis=1)
    above = np.flatnonzero(np.abs(audio) > 1e-3)
    start = int(above[0]) if above.size else 0
    audio = audio[start : start + int(SR * SECONDS)]
    audio = np.pad(audio, (0, int(SR * SECONDS) - audio.shape[0]))
    audio = audio / max(1e-6, np.abs(audio).max()) * 0.7
    sf.write(path, audio.astype(np.float32), SR, subtype="PCM_16")


def score_midi(path):
    score = converter.parse(path)
    key = score.analyze("key")
    with tempfile.TemporaryDirectory() as tmp:
        mid = os.path.join(tmp, "s.mid")
        score.write("midi", fp=mid)
        pm = pretty_midi.PrettyMIDI(mid)
    return pm, pitch_class(key.tonic.name), key.mode


def transpose(pm, semitones):
    for inst in pm.instruments:
        for note in inst.notes:
            note.pitch += semitones
    return pm


def eval_set():
    out = "data/eval"
    os.makedirs(out, exist_ok=True)
    meta = []
    paths = {p.stem: p for p in corpus.getComposer("bach")}
    major_targets = [[0, 3, 6, 9], [2, 5, 8, 11]]
    minor_targets = [[9, 0, 3, 6], [4, 7, 10, 1]]
    for index, work in enumerate(TEST_WORKS):
        pm0, tonic, mode = score_midi(str(paths[work]))
        print(work, NAMES[tonic], mode, flush=True)
        targets = (major_targets if mode == "major" else minor_targets).pop(0)
        for j, target in enumerate(targets):
            shift = (target - tonic) % 12
            shift = shift - 12 if shift > 6 else shift
            pm, _, _ = score_midi(str(paths[work]))
            transpose(pm, shift)
            name = f"chorale_{work}_{NAMES[target]}{'m' if mode == 'minor' else ''}.wav"
            synth(pm, f"{out}/{name}", PROGRAMS[(index + j) % 4])
            meta.append(
                dict(file=name, kind="chorale", tonic=NAMES[target], mode=mode, program=PROGRAMS[(index + j) % 4])
            )
    # I-IV-V-I (i-iv-V-i) cadences in 8 keys, piano, 1.25 s a chord, twice.
    for tonic, mode in [
        (0, "major"),
        (7, "major"),
        (2, "major"),
        (5, "major"),
        (10, "major"),
        (9, "minor"),
        (4, "minor"),
        (2, "minor"),
    ]:
        third = 3 if mode == "minor" else 4
        chords = [(0, third, 7), (5, 5 + (3 if mode == "minor" else 4), 12), (7, 11, 14), (0, third, 7)]
        pm = pretty_midi.PrettyMIDI(initial_tempo=96)
        inst = pretty_midi.Instrument(0)
        t = 0.0
        for _ in range(2):
            for chord in chords:
                root = 48 + tonic + chord[0]
                root = root - 12 if root >= 55 else root
                inst.notes.append(pretty_midi.Note(90, root - 12 + 12 * (root < 40), t, t + 1.2))
                for interval in chord:
                    inst.notes.append(
                        pretty_midi.Note(
                            80, 60 + (tonic + interval) % 12 + (12 if (tonic + interval) % 12 < 4 else 0), t, t + 1.2
                        )
                    )
                t += 1.25
        pm.instruments.append(inst)
        name = f"cadence_{NAMES[tonic]}{'m' if mode == 'minor' else ''}.wav"
        synth(pm, f"{out}/{name}", 0)
        meta.append(dict(file=name, kind="cadence", tonic=NAMES[tonic], mode=mode, program=0))
    pulse = np.zeros(int(SR * SECONDS), dtype=np.float32)
    pulse[:: SR // 50] = 0.7
    sf.write(f"{out}/pulse50.wav", pulse, SR, subtype="PCM_16")
    meta.append(dict(file="pulse50.wav", kind="pulse"))
    Path(f"{out}/meta.json").write_text(json.dumps(meta, indent=1))


def train_set(count, augment):
    out = f"data/train_{'aug' if augment else 'noaug'}"
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0)
    paths = sorted(
        p
        for p in corpus.getComposer("bach")
        if p.stem.split(".")[0] not in {w.split(".")[0] for w in TEST_WORKS} and p.suffix in (".mxl", ".xml", ".krn")
    )
    rng.shuffle(paths)
    made = 0
    for path in paths:
        if made >= count:
            break
        try:
            pm, _, _ = score_midi(str(path))
        except Exception as error:  # noqa: BLE001
            print("skip", path.stem, error)
            continue
        if pm.get_end_time() < 8 or not pm.instruments:
            continue
        shift = rng.randint(-6, 5) if augment else 0
        transpose(pm, shift)
        program = rng.choice(PROGRAMS)
        synth(pm, f"{out}/{path.stem}_{shift:+d}_{program}.wav", program)
        made += 1
        if made % 20 == 0:
            print(made, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "eval":
        eval_set()
    else:
        train_set(int(sys.argv[2]), sys.argv[3] == "1")
