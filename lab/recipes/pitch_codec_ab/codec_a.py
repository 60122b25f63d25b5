"""Candidate (a): fixed pitch-resolving analysis -> k-means codes -> centroid features -> Griffin-Lim.

python codec_a.py FEATURE QUANT TRAINSET   e.g. stft2048 km1024 aug | mel128 none - | mel256 rvq2x1024 aug |
                                           stft2048 pq8x1024 aug | stft2048 sf1024x1024 aug | stft2048 st1024 aug
writes rt/a_FEATURE_QUANT_TRAINSET/*.wav and codebooks/FEATURE_QUANT_TRAINSET.pt (centroids)
"""

import glob
import json
import os
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch

torch.set_num_threads(1)
SR, HOP = 16000, 320
FEATURES = {  # name -> (n_fft, n_mels or None for linear STFT)
    "mel128": (2048, 128),
    "mel256": (4096, 256),
    "stft2048": (2048, None),
    "stft4096": (4096, None),
}
FLOOR = 1e-2


def analyse(audio, feature):
    n_fft, n_mels = FEATURES[feature]
    mag = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=HOP, window="hann", center=True))
    if n_mels:
        mag = librosa.feature.melspectrogram(
            S=mag, sr=SR, n_fft=n_fft, n_mels=n_mels, fmin=30.0, fmax=8000.0, power=1.0
        )
    return np.log(mag + FLOOR).T.astype(np.float32)  # [frames, dims]


def synthesise(features, feature, length):
    n_fft, n_mels = FEATURES[feature]
    mag = np.maximum(np.exp(features.T.astype(np.float64)) - FLOOR, 0.0)
    if n_mels:
        mag = librosa.feature.inverse.mel_to_stft(mag, sr=SR, n_fft=n_fft, power=1.0, fmin=30.0, fmax=8000.0)
    return librosa.griffinlim(mag, n_iter=32, hop_length=HOP, n_fft=n_fft, window="hann", length=length, random_state=0)


def kmeans(data, k, iterations=15, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(data)
    centroids = x[torch.randperm(x.shape[0], generator=generator)[:k]].clone()
    for _ in range(iterations):
        assign = assign_codes(x, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).float()
        empty = counts == 0
        centroids = torch.where(
            empty[:, None],
            x[torch.randint(0, x.shape[0], (k,), generator=generator)],
            sums / counts.clamp(min=1)[:, None],
        )
    return centroids


def assign_codes(x, centroids, chunk=4096):
    c2 = (centroids**2).sum(1)
    out = []
    for start in range(0, x.shape[0], chunk):
        block = x[start : start + chunk]
        out.append((c2[None] - 2 * block @ centroids.T).argmin(1))
    return torch.cat(out)


def weights(feature):
    """Per-dimension scale for weighted k-means ('w' prefix): each octave about equal, 60 Hz-4 kHz."""
    n_fft, n_mels = FEATURES[feature]
    freqs = (
        librosa.mel_frequencies(n_mels, fmin=30.0, fmax=8000.0) if n_mels else np.arange(n_fft // 2 + 1) * SR / n_fft
    )
    return np.sqrt(500.0 / np.clip(freqs, 60.0, 4000.0)).astype(np.float32)


def fit(feature, quant, trainset):
    frames = np.concatenate(
        [analyse(sf.read(p, dtype="float32")[0], feature) for p in sorted(glob.glob(f"data/train_{trainset}/*.wav"))]
    )
    if quant.startswith("w"):
        frames, quant = frames * weights(feature), quant[1:]
    print("train frames", frames.shape, flush=True)
    if quant.startswith("km"):
        return [kmeans(frames, int(quant[2:]))]
    if quant.startswith("rvq"):  # rvq2x1024
        stages, k = map(int, quant[3:].split("x"))
        books, residual = [], torch.from_numpy(frames)
        for _ in range(stages):
            book = kmeans(residual.numpy(), k)
            residual = residual - book[assign_codes(residual, book)]
            books.append(book)
        return books
    if quant.startswith("sf"):  # sf1024x1024: source-filter, fine structure (pitch) and envelope (timbre) apart
        k_fine, k_envelope = map(int, quant[2:].split("x"))
        envelope = spectral_envelope(frames)
        return [("source_filter", kmeans(frames - envelope, k_fine), kmeans(envelope, k_envelope))]
    if quant.startswith("st"):  # st1024: frames grouped by their semitone energies, each group's mean spectrum decoded
        k = int(quant[2:])
        semitones = semitone_energies(frames, feature)
        grid = kmeans(semitones, k)
        groups = assign_codes(torch.from_numpy(semitones), grid)
        sums = torch.zeros(k, frames.shape[1]).index_add_(0, groups, torch.from_numpy(frames))
        spectra = sums / torch.bincount(groups, minlength=k).clamp(min=1).float()[:, None]
        return [("semitone", feature, grid, spectra)]
    if quant.startswith("pq"):  # pq8x1024: one codebook per frequency band (product quantization)
        bands, k = map(int, quant[2:].split("x"))
        return [("band", lo, hi, kmeans(np.ascontiguousarray(frames[:, lo:hi]), k))
                for lo, hi in band_edges(frames.shape[1], bands)]
    raise ValueError(quant)


def band_edges(dims, bands):
    """Contiguous bands, narrow at the bottom: edges spaced evenly in log(bin) from bin 8 up."""
    inner = np.unique(np.round(np.geomspace(8, dims, bands + 1)[:-1]).astype(int))
    edges = [0] + list(inner[1:]) + [dims]
    return list(zip(edges[:-1], edges[1:], strict=True))


LIFTER = 16  # cepstral coefficients kept in the envelope: it is smooth over ~1 kHz, so harmonics stay in the fine part


def spectral_envelope(log_magnitude):
    """[frames, bins] log-magnitudes -> their low-quefrency part (the same shape): the cepstrum liftered to LIFTER."""
    cepstrum = np.fft.irfft(log_magnitude, axis=1)
    cepstrum[:, LIFTER:cepstrum.shape[1] - LIFTER + 1] = 0.0
    return np.fft.rfft(cepstrum, axis=1).real.astype(np.float32)


def semitone_energies(log_magnitude, feature, low_midi=36, high_midi=108):
    """[frames, bins] STFT log-magnitudes -> [frames, semitones] log power per semitone, C2-B7 (bins nearest each)."""
    n_fft, _ = FEATURES[feature]
    freqs = np.arange(log_magnitude.shape[1]) * SR / n_fft
    midi = np.round(69 + 12 * np.log2(np.maximum(freqs, 1e-3) / 440.0))
    member = (midi[None, :] == np.arange(low_midi, high_midi)[:, None]).astype(np.float32)
    power = np.maximum(np.exp(log_magnitude) - FLOOR, 0.0) ** 2
    return np.log(power @ member.T + 1e-6).astype(np.float32)


def quantise(features, books):
    kind = books[0][0] if books and isinstance(books[0], tuple) else "residual"  # tuples name their arrangement
    if kind == "semitone":
        _, feature, grid, spectra = books[0]
        return spectra[assign_codes(torch.from_numpy(semitone_energies(features, feature)), grid)].numpy()
    if kind == "source_filter":
        _, fine_book, envelope_book = books[0]
        envelope = spectral_envelope(features)
        fine = fine_book[assign_codes(torch.from_numpy(features - envelope), fine_book)]
        return (fine + envelope_book[assign_codes(torch.from_numpy(envelope), envelope_book)]).numpy()
    if kind == "band":  # product quantization: each band its own nearest centroid
        out = np.zeros_like(features)
        for _, lo, hi, book in books:
            part = torch.from_numpy(np.ascontiguousarray(features[:, lo:hi]))
            out[:, lo:hi] = book[assign_codes(part, book)].numpy()
        return out
    x = torch.from_numpy(features)
    out = torch.zeros_like(x)
    residual = x
    for book in books:
        chosen = book[assign_codes(residual, book)]
        out = out + chosen
        residual = residual - chosen
    return out.numpy()


def main(feature, quant, trainset):
    name = f"a_{feature}_{quant}_{trainset}"
    start = time.process_time()
    books = None if quant == "none" else fit(feature, quant, trainset)
    fit_minutes = (time.process_time() - start) / 60
    if books is not None:
        os.makedirs("codebooks", exist_ok=True)
        torch.save(books, f"codebooks/{feature}_{quant}_{trainset}.pt")
    os.makedirs(f"rt/{name}", exist_ok=True)
    for item in json.loads(Path("data/eval/meta.json").read_text()):
        audio = sf.read(f"data/eval/{item['file']}", dtype="float32")[0]
        features = analyse(audio, feature)
        if books is not None:
            w = weights(feature) if quant.startswith("w") else np.ones(features.shape[1], np.float32)
            features = quantise(features * w, books) / w
        out = synthesise(features, feature, len(audio))
        sf.write(f"rt/{name}/{item['file']}", out.astype(np.float32), SR, subtype="FLOAT")
    print(name, f"fit cpu-min {fit_minutes:.2f}", flush=True)
    Path(f"rt/{name}/fit.json").write_text(json.dumps(dict(fit_cpu_min=fit_minutes)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
