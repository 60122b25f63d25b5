"""Independent measures for the codec A/B: key (essentia KeyExtractor, librosa Krumhansl), comb ratio, note F1
(basic-pitch ONNX via simba_music_lab.codec.transcription), mel distance (simba_music_lab.codec.losses.mel_distance).

python measure.py calibrate                 -> each estimator on the originals (vs the rendered key), comb of originals
python measure.py score NAME DIR [MINUTES]  -> one row for the round trips in DIR (same file names as data/eval)
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

torch.set_num_threads(1)
SR = 16000
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
EVAL = "data/eval"


def pc(name):
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[name[0].upper()]
    for ch in name[1:]:
        base += 1 if ch == "#" else -1 if ch == "b" else 0
    return base % 12


def key_essentia(audio):
    import essentia.standard as es

    key, scale, strength = es.KeyExtractor(sampleRate=SR)(audio.astype(np.float32))
    return pc(key), scale, float(strength)


MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def key_librosa(audio):
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio.astype(np.float32), sr=SR, hop_length=512).mean(axis=1)
    best = None
    for mode, profile in (("major", MAJOR), ("minor", MINOR)):
        for tonic in range(12):
            r = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
            if best is None or r > best[2]:
                best = (tonic, mode, float(r))
    return best


def comb_ratio(audio, rate=50.0, kmax=80, half_width=2.0):
    """Geometric mean over k = 2..kmax of (power within +-2 Hz of k*rate) / (power within +-2 Hz of (k+0.5)*rate),
    from the long-term average spectrum (n_fft = SR: 1 Hz bins, Hann, hop SR/4). A comb at the frame rate -> >> 1;
    music tuned to A440 -> about 1."""
    n_fft = SR
    frames = np.lib.stride_tricks.sliding_window_view(audio.astype(np.float64), n_fft)[:: n_fft // 4] * np.hanning(
        n_fft
    )
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0) + 1e-20
    freqs = np.arange(power.shape[0]) * SR / n_fft
    ratios = []
    for k in range(2, kmax + 1):
        tooth = power[np.abs(freqs - k * rate) <= half_width].sum()
        mid = power[np.abs(freqs - (k + 0.5) * rate) <= half_width].sum()
        ratios.append(np.log(tooth / mid))
    return float(np.exp(np.mean(ratios)))


_transcriber = None


def notes(audio):
    global _transcriber
    if _transcriber is None:
        from simba_music_lab.codec.transcription import NoteTranscriber

        _transcriber = NoteTranscriber()
    return _transcriber.transcribe(audio.astype(np.float32), SR)


def note_f1(reference_notes, audio):
    from simba_music_lab.codec.note_metrics import note_f1 as f1

    return f1(reference_notes, notes(audio))["f1"]


def mel_dist(recon, orig):
    from simba_music_lab.codec.losses import mel_distance

    n = min(len(recon), len(orig))
    return float(
        mel_distance(torch.from_numpy(recon[None, :n]).float(), torch.from_numpy(orig[None, :n]).float(), SR)[0]
    )


def load(path):
    audio, sr = sf.read(path, dtype="float32")
    assert sr == SR, (path, sr)
    return audio if audio.ndim == 1 else audio.mean(axis=1)


def meta():
    return json.loads(Path(f"{EVAL}/meta.json").read_text())


def calibrate():
    rows = {}
    cache = {}
    for item in meta():
        audio = load(f"{EVAL}/{item['file']}")
        e = key_essentia(audio)
        lib = key_librosa(audio)
        row = dict(
            kind=item["kind"],
            comb=comb_ratio(audio),
            essentia=f"{NAMES[e[0]]} {e[1]} {e[2]:.2f}",
            librosa=f"{NAMES[lib[0]]} {lib[1]} {lib[2]:.2f}",
        )
        if item["kind"] != "pulse":
            truth = (pc(item["tonic"]), item["mode"])
            row.update(
                truth=f"{item['tonic']} {item['mode']}",
                essentia_ok=(e[0], e[1]) == truth,
                librosa_ok=(lib[0], lib[1]) == truth,
            )
            cache[item["file"]] = dict(
                essentia=[e[0], e[1]], librosa=[lib[0], lib[1]], notes=np.asarray(notes(audio)).tolist()
            )
        rows[item["file"]] = row
        print(item["file"], row, flush=True)
    Path("data/originals_cache.json").write_text(json.dumps(cache))
    for kind in ("chorale", "cadence"):
        sel = [r for r in rows.values() if r["kind"] == kind]
        print(
            kind,
            "essentia correct",
            sum(r["essentia_ok"] for r in sel),
            "/",
            len(sel),
            "librosa correct",
            sum(r["librosa_ok"] for r in sel),
            "/",
            len(sel),
            "comb geo-mean",
            float(np.exp(np.mean([np.log(r["comb"]) for r in sel]))),
        )
    Path("results/calibration.json").write_text(json.dumps(rows, indent=1))


def score(name, directory, minutes=0.0):
    cache = json.loads(Path("data/originals_cache.json").read_text())
    out = dict(name=name, train_cpu_min=minutes, per_file={})
    kept = {"chorale": [0, 0, 0], "cadence": [0, 0, 0]}  # essentia kept, librosa kept, count
    combs, combs_orig, f1s, mels = [], [], [], []
    for item in meta():
        path = f"{directory}/{item['file']}"
        if not os.path.exists(path):
            continue
        recon = load(path)
        orig = load(f"{EVAL}/{item['file']}")
        if item["kind"] == "pulse":
            out["pulse_comb"] = comb_ratio(recon)
            continue
        ref = cache[item["file"]]
        e = key_essentia(recon)
        lib = key_librosa(recon)
        ke = [e[0], e[1]] == ref["essentia"]
        kl = [lib[0], lib[1]] == ref["librosa"]
        k = kept[item["kind"]]
        k[0] += ke
        k[1] += kl
        k[2] += 1
        c, co = comb_ratio(recon), comb_ratio(orig)
        f1 = note_f1(np.asarray(ref["notes"]), recon) if item["kind"] == "chorale" else None
        md = mel_dist(recon, orig)
        if item["kind"] == "chorale":
            combs.append(c)
            combs_orig.append(co)
            f1s.append(f1)
        mels.append(md)
        out["per_file"][item["file"]] = dict(
            essentia=f"{NAMES[e[0]]} {e[1]}", kept_e=ke, kept_l=kl, comb=c, f1=f1, mel=md
        )
    geo = lambda xs: float(np.exp(np.mean(np.log(xs))))  # noqa: E731
    out.update(
        keys_essentia=f"{kept['chorale'][0]}/{kept['chorale'][2]}",
        keys_librosa=f"{kept['chorale'][1]}/{kept['chorale'][2]}",
        cad_essentia=f"{kept['cadence'][0]}/{kept['cadence'][2]}",
        cad_librosa=f"{kept['cadence'][1]}/{kept['cadence'][2]}",
        comb=geo(combs),
        comb_orig=geo(combs_orig),
        note_f1=float(np.mean(f1s)),
        mel=float(np.mean(mels)),
    )
    os.makedirs("results", exist_ok=True)
    Path(f"results/{name}.json").write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "per_file"}), flush=True)


if __name__ == "__main__":
    os.makedirs("results", exist_ok=True)
    if sys.argv[1] == "calibrate":
        calibrate()
    else:
        score(sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
