"""Candidate (c): magnitude-only synthesis without a frame-synchronous phase: peak-locked phase vocoder.

Each frame's log-magnitude (the dequantized 2048-point log-STFT) gives spectral peaks; a peak's frequency comes from
quadratic interpolation of the log-magnitude; every bin takes the phase of the peak whose region it lies in (identity
phase locking, +pi per bin: frames are centred). Peak phase:
  accum: previous frame's synthesis phase at that bin + hop * omega   (causal state)
  abs:   omega * (absolute sample time of the frame centre)            (local: no state)
python pv.py MODE CODEBOOK|none  -> rt/c_pv_MODE_{CODEBOOK}/
"""

import json
import os
import sys
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch
from codec_a import FLOOR, HOP, SR, analyse, quantise

N = 2048


def pv_phases(logmag, mode):
    frames, bins = logmag.shape
    phases = np.zeros((frames, bins))
    previous = np.zeros(bins)
    k = np.arange(bins)
    for t in range(frames):
        m = logmag[t]
        peak = np.flatnonzero((m[1:-1] > m[:-2]) & (m[1:-1] >= m[2:])) + 1
        if peak.size == 0:
            peak = np.array([int(np.argmax(m))])
        a, b, c = m[np.clip(peak - 1, 0, bins - 1)], m[peak], m[np.clip(peak + 1, 0, bins - 1)]
        denom = a - 2 * b + c
        delta = np.where(np.abs(denom) > 1e-9, 0.5 * (a - c) / np.where(np.abs(denom) > 1e-9, denom, 1), 0.0)
        omega = 2 * np.pi * (peak + np.clip(delta, -0.5, 0.5)) / N  # radians per sample
        # "accum": each partial's phase advances at its own frequency; else the phase a steady tone would have
        peak_phase = previous[peak] + HOP * omega if mode == "accum" else omega * (t * HOP)
        # region of each peak: bins closer to it than to its neighbours (boundaries at midpoints)
        bounds = (peak[1:] + peak[:-1]) / 2
        owner = np.searchsorted(bounds, k)
        phase = peak_phase[owner] + np.pi * (k - peak[owner])
        phases[t] = phase
        previous = phase
    return phases


def synth(logmag, mode, length):
    mag = np.maximum(np.exp(logmag) - FLOOR, 0.0)
    spec = (mag * np.exp(1j * pv_phases(logmag, mode))).T
    return librosa.istft(spec, hop_length=HOP, n_fft=N, window="hann", center=True, length=length)


if __name__ == "__main__":
    torch.set_num_threads(1)
    mode, book = sys.argv[1], sys.argv[2]
    books = None if book == "none" else torch.load(f"codebooks/{book}.pt")
    name = f"c_pv_{mode}_{book}"
    os.makedirs(f"rt/{name}", exist_ok=True)
    for item in json.loads(Path("data/eval/meta.json").read_text()):
        audio = sf.read(f"data/eval/{item['file']}", dtype="float32")[0]
        feats = analyse(audio, "stft2048")
        if books is not None:
            feats = quantise(feats, books)
        sf.write(f"rt/{name}/{item['file']}", synth(feats, mode, len(audio)).astype(np.float32), SR, subtype="FLOAT")
    print(name, "written")
