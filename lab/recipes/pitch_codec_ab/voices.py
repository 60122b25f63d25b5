"""Candidate (d): voice tokens. Each frame becomes up to VOICES semitone pitches (C2-C7) with an amplitude each, over
the frame's spectral envelope; decoded as harmonic combs under that envelope, then Griffin-Lim. Pitch would be a token
the decoder reads directly, so this bounds what any codec built on such tokens can keep: pitches and amplitudes and the
envelope are left unquantized here.

python voices.py VOICES           pitches from non-negative least squares on harmonic templates -> rt/d_voices_VOICES
python voices.py VOICES oracle    pitches = basic-pitch's notes of the original (the note measure's own reference: a
                                  ceiling for the synthesis, not a codec) -> rt/d_oracle
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from codec_a import HOP, SR, analyse, spectral_envelope, synthesise

torch.set_num_threads(1)
N_FFT = 2048
LOW_MIDI, HIGH_MIDI = 36, 97


def window_lobe(offset_bins):
    """|spectrum| of the Hann analysis window `offset_bins` from a partial, 1 at the partial, 0 past 3 bins."""
    d = np.asarray(offset_bins, dtype=np.float64)
    at_one = np.isclose(np.abs(d), 1.0)
    lobe = np.where(at_one, 0.5, np.sinc(d) / np.where(at_one, 1.0, 1.0 - d**2))
    return np.where(np.abs(d) < 3, np.abs(lobe), 0.0)


def harmonic_templates(top_hz=7600.0):
    """[pitches, bins]: one flat harmonic comb per semitone (the envelope is divided out before matching)."""
    bins = np.arange(N_FFT // 2 + 1)
    combs = []
    for midi in range(LOW_MIDI, HIGH_MIDI):
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        partials = np.arange(1, int(top_hz // f0) + 1) * f0 * N_FFT / SR
        combs.append(window_lobe(bins[None, :] - partials[:, None]).sum(axis=0))
    return torch.tensor(np.array(combs), dtype=torch.float32)


def fit_amplitudes(peaks, templates, allowed, iterations=200):
    """Non-negative least squares, all frames at once (multiplicative updates): peaks [T, bins] ~ amplitudes [T, P] @
    templates; allowed [T, P] masks which pitches may sound (a zero stays zero under the updates)."""
    gram, target = templates @ templates.T, peaks @ templates.T
    amplitudes = 0.1 * allowed
    for _ in range(iterations):
        amplitudes = amplitudes * target / (amplitudes @ gram + 1e-9)
    return amplitudes


def keep_loudest(amplitudes, templates, voices):
    """Zero all but each frame's `voices` largest pitches by energy (amplitude x template norm)."""
    energy = amplitudes * templates.norm(dim=1)
    chosen = torch.zeros_like(amplitudes).scatter_(1, energy.topk(voices, dim=1).indices, 1.0)
    return amplitudes * chosen


def oracle_mask(notes, frames):
    """[frames, P] 1 where one of basic-pitch's notes (onset s, offset s, midi) sounds at the frame's centre."""
    times = np.arange(frames) * HOP / SR
    mask = torch.zeros(frames, HIGH_MIDI - LOW_MIDI)
    for onset, offset, midi in notes:
        pitch = int(round(midi)) - LOW_MIDI
        if 0 <= pitch < mask.shape[1]:
            mask[torch.from_numpy((times >= onset) & (times < offset)), pitch] = 1.0
    return mask


def round_trip(audio, templates, voices, notes=None):
    log_magnitude = analyse(audio, "stft2048")
    envelope = spectral_envelope(log_magnitude)
    fine = torch.from_numpy(np.exp(log_magnitude - envelope))
    floor = fine.median(dim=1, keepdim=True).values
    peaks = (fine - floor).clamp(min=0)
    if notes is None:
        amplitudes = keep_loudest(fit_amplitudes(peaks, templates, torch.ones(len(fine), len(templates))), templates,
                                  voices)
    else:
        amplitudes = fit_amplitudes(peaks, templates, oracle_mask(notes, len(fine)))
    combs = floor.median() + amplitudes @ templates
    return synthesise(envelope + torch.log(combs).numpy(), "stft2048", len(audio))


def main(voices, mode="estimate"):
    voices = int(voices)
    oracle = mode == "oracle"
    name = "d_oracle" if oracle else f"d_voices_{voices}"
    references = json.loads(Path("data/originals_cache.json").read_text()) if oracle else {}
    templates = harmonic_templates()
    os.makedirs(f"rt/{name}", exist_ok=True)
    for item in json.loads(Path("data/eval/meta.json").read_text()):
        if oracle and item["file"] not in references:
            continue  # the pulse train has no notes
        audio = sf.read(f"data/eval/{item['file']}", dtype="float32")[0]
        notes = references[item["file"]]["notes"] if oracle else None
        out = round_trip(audio, templates, voices, notes)
        sf.write(f"rt/{name}/{item['file']}", out.astype(np.float32), SR, subtype="FLOAT")
    print(name, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
