"""A small instrument classifier on clip-level spectral features: what the prompt-adherence check uses to tell
which instrument a generated clip sounds like.

Features (`instrument_features`, 206 values, audio at 16 kHz scaled to a fixed RMS so that loudness is no cue):
log-mel mean and standard deviation over time (64 + 64), mean absolute frame-to-frame log-mel change per band (64:
sustained vs. plucked/struck), and mean and standard deviation of spectral centroid, bandwidth, 85% roll-off,
flatness, zero-crossing rate and frame log-RMS, onset-strength mean and standard deviation (14).
Model: standardisation, then one hidden layer (64, ReLU) and a softmax over the labels. Saved as
`model.safetensors` (weights and the standardisation) plus `config.json` (labels, sizes, training metrics).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simba_music.audio import stft_magnitude

from ..codec.pretrained import pretrained_codec_path
from ..shipped import LAB_PRETRAINED_ROOT
from .features import ANALYSIS_RATE, HOP, N_FFT, N_MELS, conform, log_mel, onset_strength

PRETRAINED_DIR = LAB_PRETRAINED_ROOT / "instrument-classifier"
# The same classifier trained on clips after a round trip through the demo's pitch codec (first codebook), i.e. on
# audio that sounds like what the demo model generates.
PITCH_CODEC_DIR = LAB_PRETRAINED_ROOT / "instrument-classifier-pitch-codec"
# Trained likewise through the EnCodec-format chorale codec (chorale-codec-16khz).
CHORALE_CODEC_DIR = LAB_PRETRAINED_ROOT / "instrument-classifier-chorale-codec"
# Trained likewise through the shipped one-codebook codec (chorale-wavtokenizer-16khz): for models built on it.
WAVTOKENIZER_CODEC_DIR = LAB_PRETRAINED_ROOT / "instrument-classifier-chorale-wavtokenizer"
# A shipped codec's folder -> the shipped classifier trained through it (`default_classifier_dir`).
CLASSIFIER_THROUGH_CODEC = {"pitch-codec-16khz": PITCH_CODEC_DIR, "chorale-codec-16khz": CHORALE_CODEC_DIR,
                            "chorale-wavtokenizer-16khz": WAVTOKENIZER_CODEC_DIR}
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"
TARGET_RMS = 0.1
FEATURE_SIZE = 3 * N_MELS + 14


def instrument_features(audio, rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Mono or multi-channel float audio at `rate` -> the classifier's feature vector [FEATURE_SIZE] (float32)."""
    audio = conform(audio, rate)
    if audio.size < N_FFT:
        raise ValueError(f"audio: too short for instrument features ({audio.size} samples at {ANALYSIS_RATE} Hz)")
    rms = float(np.sqrt(np.mean(audio ** 2)))
    audio = audio * (TARGET_RMS / rms) if rms > 1e-8 else audio
    spectrogram = log_mel(audio)
    magnitude = stft_magnitude(audio, N_FFT, HOP)
    frequencies = np.fft.rfftfreq(N_FFT, 1.0 / ANALYSIS_RATE)
    power = magnitude ** 2 + 1e-12
    weights = magnitude / np.maximum(magnitude.sum(axis=1, keepdims=True), 1e-12)
    centroid = weights @ frequencies
    bandwidth = np.sqrt(np.sum(weights * (frequencies[None] - centroid[:, None]) ** 2, axis=1))
    rolloff = frequencies[np.argmax(np.cumsum(weights, axis=1) >= 0.85, axis=1)]
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP]
    crossings = np.mean(np.abs(np.diff(np.signbit(frames), axis=1)), axis=1)
    loudness = 0.5 * np.log(np.mean(frames ** 2, axis=1) + 1e-10)
    envelope, _ = onset_strength(audio)
    tracks = [centroid / 1000.0, bandwidth / 1000.0, rolloff / 1000.0, flatness, crossings, loudness]
    summary = [value for track in tracks for value in (track.mean(), track.std())]
    summary += [envelope.mean(), envelope.std()]
    vector = np.concatenate([spectrogram.mean(axis=0), spectrogram.std(axis=0),
                             np.abs(np.diff(spectrogram, axis=0)).mean(axis=0), np.asarray(summary)])
    return vector.astype(np.float32)


class InstrumentClassifier(nn.Module):
    """Standardise -> Linear -> ReLU -> Linear (logits over `labels`); `hidden_size=0` is multinomial logistic
    regression."""

    def __init__(self, labels: list[str], feature_size: int = FEATURE_SIZE, hidden_size: int = 64):
        super().__init__()
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(f"labels: need at least two distinct labels, got {labels}")
        self.labels = list(labels)
        self.hidden_size = hidden_size
        self.register_buffer("feature_mean", torch.zeros(feature_size))
        self.register_buffer("feature_scale", torch.ones(feature_size))
        layers = ([nn.Linear(feature_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, len(labels))]
                  if hidden_size else [nn.Linear(feature_size, len(labels))])
        self.network = nn.Sequential(*layers)
        self.metrics: dict = {}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.network((features - self.feature_mean) / self.feature_scale)

    def set_standardisation(self, features: torch.Tensor) -> None:
        self.feature_mean.copy_(features.mean(dim=0))
        self.feature_scale.copy_(features.std(dim=0).clamp_min(1e-6))

    @torch.no_grad()
    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """[N, FEATURE_SIZE] or [FEATURE_SIZE] features -> class probabilities [N, labels] (or [labels])."""
        single = np.ndim(features) == 1
        logits = self(torch.as_tensor(np.atleast_2d(features), dtype=torch.float32))
        probabilities = logits.softmax(-1).numpy()
        return probabilities[0] if single else probabilities

    def predict(self, audio, rate: int) -> tuple[str, dict[str, float]]:
        """Audio -> (most likely label, {label: probability})."""
        probabilities = self.probabilities(instrument_features(audio, rate))
        return (self.labels[int(np.argmax(probabilities))],
                dict(zip(self.labels, map(float, probabilities), strict=True)))

    def fit(self, features: np.ndarray, targets: np.ndarray, epochs: int = 400, learning_rate: float = 0.01,
            weight_decay: float = 1e-3, seed: int = 0) -> list[float]:
        """Full-batch Adam on cross-entropy; returns the loss per epoch."""
        torch.manual_seed(seed)
        for layer in self.network:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        inputs = torch.as_tensor(features, dtype=torch.float32)
        labels = torch.as_tensor(targets, dtype=torch.long)
        self.set_standardisation(inputs)
        optimizer = torch.optim.AdamW(self.network.parameters(), lr=learning_rate, weight_decay=weight_decay)
        losses = []
        self.train()
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self(inputs), labels)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        self.eval()
        return losses

    def save(self, directory: str | Path, overwrite: bool = False) -> None:
        """Weights and standardisation (safetensors) plus labels and metrics (json), replacing `directory` at once
        (an earlier save, or a new or empty folder, unless `overwrite`)."""
        from safetensors.torch import save_file

        from simba_music.io_utils import atomic_directory

        with atomic_directory(directory, "simba-music-lab classifier train", overwrite) as temporary:
            save_file({name: tensor.contiguous() for name, tensor in self.state_dict().items()},
                      str(temporary / WEIGHTS_FILE))
            config = {"labels": self.labels, "feature_size": int(self.feature_mean.numel()),
                      "hidden_size": self.hidden_size, "analysis_rate": ANALYSIS_RATE, "metrics": self.metrics}
            (temporary / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path | None = None) -> InstrumentClassifier:
        """From a folder written by `save` (default: the classifier shipped with simba-music)."""
        from safetensors.torch import load_file

        directory = Path(directory) if directory is not None else PRETRAINED_DIR
        if not (directory / WEIGHTS_FILE).is_file() or not (directory / CONFIG_FILE).is_file():
            raise ValueError(f"instrument_classifier: {str(directory)!r} has no {WEIGHTS_FILE} and {CONFIG_FILE} "
                             "(train one with `simba-music-lab classifier train`)")
        config = json.loads((directory / CONFIG_FILE).read_text())
        model = cls(config["labels"], config["feature_size"], config["hidden_size"])
        model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
        model.metrics = config.get("metrics", {})
        return model.eval()


def default_classifier_dir(codec_model: nn.Module) -> Path:
    """The shipped classifier trained through `codec_model` when its weights are exactly a shipped codec's, else the
    clean-render one. A clean-render classifier judges a model's audio by its codec's artefacts as much as by its
    instrument (37.5% on round trips through the chorale codec, against 99.1% for the one trained through it)."""
    from safetensors.torch import load_file

    state = codec_model.state_dict()
    for codec_name, classifier_dir in CLASSIFIER_THROUGH_CODEC.items():
        weights_path = pretrained_codec_path(codec_name) / WEIGHTS_FILE
        if weights_path.is_file() and _holds_weights(state, load_file(str(weights_path))):
            return classifier_dir
    return PRETRAINED_DIR


def _holds_weights(state: dict, weights: dict) -> bool:
    # Shipped codecs are stored in float16 and load as float32, so compare in float32.
    return all(name in state and state[name].shape == tensor.shape
               and torch.equal(state[name].detach().float().cpu(), tensor.float()) for name, tensor in weights.items())


__all__ = ["CHORALE_CODEC_DIR", "CLASSIFIER_THROUGH_CODEC", "FEATURE_SIZE", "PITCH_CODEC_DIR", "PRETRAINED_DIR",
           "WAVTOKENIZER_CODEC_DIR", "InstrumentClassifier", "default_classifier_dir", "instrument_features"]
