"""Waveform from a log-magnitude STFT alone, with phases that follow the music rather than the frame clock.

A decoder that chooses each frame's phase itself (an inverse-STFT head, a transposed-convolution stack) can settle on
the same phase every frame; the overlap-add then repeats one waveform every hop, a pulse train at the frame rate,
whose harmonics (k x 50 Hz at 16 kHz / 320) read as G major. Here the phases are not chosen, they are integrated:

* every frame, the local maxima of the log-magnitude are the partials; a partial's frequency is refined by fitting a
  parabola through its bin and the two neighbours;
* a partial's phase advances from the previous frame's phase at its bin by `hop * 2 pi f / sampling_rate`
  (the phase vocoder's rule), so a held note continues as one sinusoid at its own pitch;
* every other bin takes the phase of the nearest partial plus pi per bin (identity phase locking; the frames are
  centred on `t * hop`, which makes a windowed sinusoid's phase alternate by pi from bin to bin).

The phase is a running state: `PhaseVocoderStream` carries it (and the overlap-add tail) from one call to the next,
so audio synthesized in pieces equals audio synthesized at once. The phases are computed without gradient; the
audio is differentiable with respect to the magnitudes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def peak_locked_phases(log_magnitude: torch.Tensor, previous: torch.Tensor, hop: int) -> torch.Tensor:
    """Phases [batch, bins] of one frame from its log-magnitudes [batch, bins] and the previous frame's phases."""
    batch, bins = log_magnitude.shape
    index = torch.arange(bins, device=log_magnitude.device)
    left = F.pad(log_magnitude[:, :-1], (1, 0), value=-math.inf)
    right = F.pad(log_magnitude[:, 1:], (0, 1), value=-math.inf)
    is_peak = (log_magnitude > left) & (log_magnitude >= right)
    none = ~is_peak.any(dim=1)
    if none.any():  # a flat frame: its loudest bin leads
        is_peak[none, log_magnitude[none].argmax(dim=1)] = True
    a = torch.where(torch.isfinite(left), left, log_magnitude)
    c = torch.where(torch.isfinite(right), right, log_magnitude)
    curvature = a - 2 * log_magnitude + c
    safe = torch.where(curvature.abs() > 1e-9, curvature, torch.ones_like(curvature))
    offset = torch.where(curvature.abs() > 1e-9, 0.5 * (a - c) / safe, torch.zeros_like(curvature)).clamp(-0.5, 0.5)
    n_fft = 2 * (bins - 1)
    advance = hop * 2 * math.pi * (index + offset) / n_fft
    peak_phase = previous + advance  # meaningful at the peaks only
    # The nearest peak of every bin (ties to the lower one).
    below = torch.where(is_peak, index, torch.full_like(index, -1).expand(batch, -1)).cummax(dim=1).values
    above = torch.where(is_peak, index, torch.full_like(index, bins).expand(batch, -1)).flip(1).cummin(dim=1).values
    above = above.flip(1)
    use_below = (below >= 0) & ((above >= bins) | (index - below <= above - index))
    owner = torch.where(use_below, below, above)
    phase = peak_phase.gather(1, owner) + math.pi * (index - owner)
    return torch.remainder(phase, 2 * math.pi)


class PhaseVocoderStream:
    """Log-magnitude frames in (any number per call), finished audio samples out.

    Frame `t` is centred on sample `t * hop`; a sample is finished once no later frame can reach it. `finish()`
    returns the rest, up to `frames * hop` samples in all, as `overlap_add_istft` with the same window would.
    """

    def __init__(self, n_fft: int, hop: int, log_floor: float, batch: int, device=None, dtype=torch.float32):
        self.n_fft, self.hop, self.log_floor = n_fft, hop, log_floor
        self.window = torch.hann_window(n_fft, device=device, dtype=dtype)
        self.phase = torch.zeros(batch, n_fft // 2 + 1, device=device, dtype=dtype)
        self.frames = 0  # frames received
        self.emitted = 0  # output samples returned
        # Overlap-add buffers: buffer coordinate b is output sample b - n_fft // 2 (frame t spans b in
        # [t hop, t hop + n_fft)).
        self.origin = 0  # buffer coordinate of the buffers' first element
        self.audio = torch.zeros(batch, 0, device=device, dtype=dtype)
        self.envelope = torch.zeros(0, device=device, dtype=dtype)

    def push(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """[batch, frames, bins] -> the samples finished by these frames [batch, samples] (possibly none)."""
        if log_magnitude.shape[1]:
            with torch.no_grad():
                phases = []
                for frame in log_magnitude.detach().unbind(1):
                    self.phase = peak_locked_phases(frame, self.phase, self.hop)
                    phases.append(self.phase)
                phases = torch.stack(phases, dim=2)
            magnitude = (torch.exp(log_magnitude) - self.log_floor).clamp(min=0).transpose(1, 2)
            pieces = torch.fft.irfft(torch.polar(magnitude, phases), n=self.n_fft, dim=1) * self.window[:, None]
            self._add(pieces)
        # The next frame starts at output sample frames * hop - n_fft // 2: everything before it is finished.
        return self._take(self.frames * self.hop - self.n_fft // 2)

    def finish(self) -> torch.Tensor:
        return self._take(self.frames * self.hop)

    def _add(self, pieces: torch.Tensor) -> None:
        count = pieces.shape[-1]
        length = (count - 1) * self.hop + self.n_fft
        audio = F.fold(pieces, (1, length), (1, self.n_fft), stride=(1, self.hop))[:, 0, 0]
        squares = self.window.square()[None, :, None].expand(1, self.n_fft, count)
        envelope = F.fold(squares, (1, length), (1, self.n_fft), stride=(1, self.hop))[0, 0, 0]
        offset = self.frames * self.hop - self.origin
        if offset < 0:  # the start lies before output sample 0, which the buffers already dropped: never output
            audio, envelope, length, offset = audio[:, -offset:], envelope[-offset:], length + offset, 0
        grow = max(0, offset + length - self.envelope.shape[-1])
        self.audio, self.envelope = F.pad(self.audio, (0, grow)), F.pad(self.envelope, (0, grow))
        self.audio[:, offset:offset + length] += audio
        self.envelope[offset:offset + length] += envelope
        self.frames += count

    def _take(self, end: int) -> torch.Tensor:
        """Output samples [emitted, end), divided by the window envelope, dropped from the buffers."""
        end = max(end, self.emitted)
        first, last = self.emitted + self.n_fft // 2 - self.origin, end + self.n_fft // 2 - self.origin
        out = self.audio[:, first:last] / self.envelope[first:last].clamp(min=1e-8)
        self.audio, self.envelope = self.audio[:, last:], self.envelope[last:]
        self.origin, self.emitted = end + self.n_fft // 2, end
        return out


__all__ = ["PhaseVocoderStream", "peak_locked_phases"]
