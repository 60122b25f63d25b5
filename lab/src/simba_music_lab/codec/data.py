"""Random fixed-length audio crops from a manifest, reproducible from (seed, step) alone.

Drawing batch ``step`` from its own seeded generator means a resumed run sees exactly the batches it would have
seen, with no data-loader state to checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

from simba_music.training.manifest import read_manifest


class CropSampler:
    def __init__(
        self,
        manifest_path: str,
        split: str | None,
        sample_rate: int,
        segment_samples: int,
        seed: int = 0,
        min_rms: float = 1e-3,
    ):
        import soundfile as sf

        if segment_samples < 1:
            raise ValueError(f"segment_samples must be >= 1, got {segment_samples}")
        rows = read_manifest(manifest_path, split)
        self.paths: list[str] = []
        self.lengths: list[int] = []
        for row in rows:
            info = sf.info(row["audio"])
            if info.samplerate != sample_rate:
                raise ValueError(
                    f"sample_rate: {row['audio']} is {info.samplerate} Hz but the codec runs at {sample_rate} Hz; "
                    "build the corpus at the codec's rate"
                )
            self.paths.append(row["audio"])
            self.lengths.append(int(info.frames))
        if not self.paths:
            raise ValueError(f"manifest_path: no rows for split={split!r} in {manifest_path}")
        self.sample_rate = sample_rate
        self.segment_samples = segment_samples
        self.seed = seed
        self.min_rms = min_rms

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, index: int, start: int) -> np.ndarray:
        import soundfile as sf

        audio, _ = sf.read(self.paths[index], start=start, frames=self.segment_samples, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if audio.shape[0] < self.segment_samples:
            audio = np.pad(audio, (0, self.segment_samples - audio.shape[0]))
        return audio

    def batch(self, step: int, batch_size: int, stream: int = 0) -> torch.Tensor:
        """(batch_size, 1, segment_samples) crops; near-silent crops (end padding) are redrawn a few times.

        ``stream`` separates uses (training steps, k-means initialisation) that must not share batches.
        """
        if step < 0 or stream < 0:
            raise ValueError(f"step and stream must be >= 0, got step={step}, stream={stream}")
        rng = np.random.default_rng([self.seed, stream, step])
        crops = []
        for _ in range(batch_size):
            for _attempt in range(4):
                index = int(rng.integers(len(self.paths)))
                start = int(rng.integers(max(1, self.lengths[index] - self.segment_samples + 1)))
                audio = self._read(index, start)
                if np.sqrt(np.mean(np.square(audio))) >= self.min_rms:
                    break
            crops.append(audio)
        return torch.from_numpy(np.stack(crops))[:, None, :]

    def fixed_batch(self, count: int, seconds_offset: float = 0.0) -> torch.Tensor:
        """The same evenly spread crops every time: for validation numbers comparable across checkpoints."""
        picks = np.linspace(0, len(self.paths) - 1, num=min(count, len(self.paths))).round().astype(int)
        start = int(seconds_offset * self.sample_rate)
        return torch.from_numpy(np.stack([self._read(int(i), start) for i in picks]))[:, None, :]
