"""Tempo steering: start new sounds on the asked beat, and hold them between beats.

Onset detectors (and listeners) hear a beat where the spectrum's energy rises, band by band, from one frame to the
next (spectral flux). For a codec whose codes are spectra (the pitch codec, `code_spectra`), `code_onsets` gives that
rise for every pair of codes: `onsets[p, n]`, the mean over log-spaced bands of the rectified increase of log band
energy from code p to code n, scaled so that its mean over all pairs is 1 and capped at twice that. A beat clock per
row ticks at the asked tempo; on the frame a beat falls in, every code gains `strength * onsets[previous code, code]`
(a rise is likely there), and on the frames between beats it loses `HOLD_SHARE` times that (no new attack off the
beat; a note may still decay or change timbre, which raises no band). For a codec whose codes are not spectra the
only onset we know is a change of code: `onsets[p, n] = 1` for n != p, so a beat favours leaving the previous code
and the frames between favour keeping it. The bias is added after classifier-free guidance, with key steering's; the
decoder still chooses the music.

The clock keeps its phase when the tempo changes (a live stream's `set_tempo`), so the beat speeds up or slows down
without a jump. Beats fall from the first new frame on: an audio prompt's own beat is not tracked.
"""

from __future__ import annotations

import re

import torch

from .values import DEFAULT_TEMPO_STRENGTH, TEMPO_BPM_RANGE, check_tempo_bpm, check_tempo_strength, per_row

# The bias between beats relative to the one on beats (chosen on tuning prompts apart from the reported ones:
# CHANGELOG, "Tempo steering").
HOLD_SHARE = 0.25
# Bands of the onset measure: log-spaced like a mel scale's upper part, as onset detectors' spectral flux uses.
ONSET_BANDS, ONSET_LOW_HZ, ONSET_HIGH_HZ = 40, 60.0, 7600.0
# Onsets are capped at this many times their mean: uncapped, a beat favours the loudest broadband attacks, and winds
# came out sounding plucked (instrument named in 32 of 48 validation captions against 37 unsteered; capped at 2: 38,
# the tempo kept; CHANGELOG, "Tempo steering").
ONSET_CEILING = 2.0
_BPM_PATTERN = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d+)?)\s*(?:bpm\b|beats per minute\b|beats/min\b)", re.IGNORECASE)


def code_onsets(magnitude: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """Magnitude spectra of the codes [codes, bins] and the bins' frequencies [bins] -> onsets [codes, codes]:
    row p, column n is the spectral flux from code p to code n (mean over `ONSET_BANDS` log-spaced bands of the
    rectified rise of log band energy) over its mean over all pairs, capped at `ONSET_CEILING`, then scaled to a mean
    of 1 again. 0 on the diagonal. Computed on the CPU (30 ms for 1024 codes), wherever the codebook lives."""
    magnitude, frequencies = magnitude.detach().double().cpu(), frequencies.double().cpu()
    high = min(ONSET_HIGH_HZ, 0.95 * float(frequencies[-1]))
    edges = torch.logspace(torch.log10(torch.tensor(ONSET_LOW_HZ)), torch.log10(torch.tensor(high)), ONSET_BANDS + 1,
                           dtype=torch.float64)
    bands = ((frequencies[:, None] >= edges[None, :-1]) & (frequencies[:, None] < edges[None, 1:])).double()
    bands = bands[:, bands.sum(0) > 0]  # a band narrower than a bin holds no bin
    energy = torch.log((magnitude.square() @ (bands / bands.sum(0))) + 1e-6).float()  # [codes, bands]
    # Band by band into two [codes, codes] buffers: a [codes, codes, bands] intermediate would cost 160 MB at 1024
    # codes, and blocks of it left the allocator holding as much.
    rise, step = (torch.zeros(len(energy), len(energy)) for _ in range(2))
    for band in energy.T:
        torch.sub(band[None, :], band[:, None], out=step)
        rise.add_(step.clamp_min_(0.0))
    capped = (rise / rise.mean().clamp(min=1e-12)).clamp_(max=ONSET_CEILING)
    return capped / capped.mean().clamp(min=1e-12)


def steering_tempi(tempo_bpm, batch: int) -> list[float | None]:
    """`tempo_bpm` (one tempo, one per row, or None) -> the tempo per row (None: not steered); checked."""
    return [None if value is None else float(check_tempo_bpm(value))
            for value in per_row(tempo_bpm, batch, "tempo_bpm", "tempo")]


class TempoSteering:
    """The beat clock of each row and the bias it puts on the codes. `frame_rate`: codec frames per second;
    `onsets` [codebook_size, codebook_size] from `code_onsets`, or None for a codec whose codes are not spectra.

    `bias(previous_codes, base)` is called once per sampled frame, in order: it ticks the clock and returns `base`
    (the key bias, or None) plus the tempo bias [rows, codes]."""

    def __init__(self, tempo_bpm: list[float | None], strength: float, frame_rate: float, codebook_size: int,
                 device=None, onsets: torch.Tensor | None = None, hold_share: float | None = None):
        self.frame_rate, self.codebook_size, self.device = float(frame_rate), codebook_size, device
        if onsets is not None and tuple(onsets.shape) != (codebook_size, codebook_size):
            raise ValueError(f"onsets: expected [{codebook_size}, {codebook_size}], got {list(onsets.shape)}")
        self.onsets = None if onsets is None else onsets.to(device)
        self.hold_share = HOLD_SHARE if hold_share is None else hold_share
        self.strength = strength
        self.phase = torch.zeros(len(tempo_bpm), dtype=torch.float64)  # beats since the last beat, in [0, 1)
        self.set_tempo(tempo_bpm)

    def set_tempo(self, tempo_bpm: list[float | None]) -> None:
        """New tempi (one per row; None stops steering that row) from the next frame on; the phase is kept."""
        if len(tempo_bpm) != self.phase.shape[0]:
            raise ValueError(f"tempo_bpm: expected {self.phase.shape[0]} tempi, got {len(tempo_bpm)}")
        self.tempo_bpm = list(tempo_bpm)
        self.steered = torch.tensor([bpm is not None for bpm in tempo_bpm])
        self.increment = torch.tensor([0.0 if bpm is None else bpm / (60.0 * self.frame_rate) for bpm in tempo_bpm],
                                      dtype=torch.float64)

    def tick(self) -> torch.Tensor:
        """Advance one frame -> bool [rows]: a beat falls in this frame (the first frame is a beat)."""
        on_beat = self.phase < self.increment
        phase = torch.remainder(self.phase + self.increment, 1.0)
        # A beat that falls exactly on a frame (120 BPM at 50 frames/s) must not slip a frame by rounding.
        self.phase = torch.where(phase > 1.0 - 1e-9, 0.0, phase)
        return on_beat

    def onset_rows(self, previous_codes: torch.LongTensor) -> torch.Tensor:
        """The onset each code would make after each row's previous code [rows, codes]."""
        previous = previous_codes.to(self.device)
        if self.onsets is not None:
            return self.onsets[previous]
        rows = torch.ones(len(previous), self.codebook_size, device=self.device)
        return rows.scatter_(1, previous[:, None], 0.0)  # any change of code is an onset

    def bias(self, previous_codes: torch.LongTensor | None, base: torch.Tensor | None) -> torch.Tensor | None:
        """previous_codes [rows]: the first codebook's codes of the frame before (real codes, < codebook_size), None
        before the first frame."""
        on_beat = self.tick()
        if previous_codes is None or self.strength == 0 or not bool(self.steered.any()):
            return base
        scale = torch.where(on_beat, self.strength, -self.hold_share * self.strength)
        scale = torch.where(self.steered, scale, 0.0).float().to(self.device)
        shift = self.onset_rows(previous_codes) * scale[:, None]
        return shift if base is None else base + shift


def tempo_steering(codec, tempo_bpm, strength, frame_rate: float, codebook_size: int, batch: int,
                   device=None) -> TempoSteering | None:
    """A `TempoSteering` for `batch` rows on `codec`'s codes (an `AudioCodec`: its `code_spectra`, where it has
    them, give the onsets), or None when no row is steered. `strength` None means `DEFAULT_TEMPO_STRENGTH`; checked,
    with `tempo_bpm`, before any work."""
    strength = DEFAULT_TEMPO_STRENGTH if strength is None else check_tempo_strength(strength)
    tempi = steering_tempi(tempo_bpm, batch) if tempo_bpm is not None else [None] * batch
    if all(bpm is None for bpm in tempi) or strength == 0:
        return None
    return TempoSteering(tempi, strength, frame_rate, codebook_size, device, codec_onsets(codec))


def codec_onsets(codec) -> torch.Tensor | None:
    """`code_onsets` of `codec`'s first-codebook codes (30 ms for 1024 codes on a CPU), or None for a codec whose
    codes are not spectra."""
    spectra = codec.code_spectra()
    return None if spectra is None else code_onsets(*spectra)


def stated_tempo(text: str) -> float | None:
    """The one tempo `text` states in beats per minute ("at 86 BPM", "(114 bpm)", "96 beats per minute"), or None
    where it states none, several different ones, or one outside `TEMPO_BPM_RANGE`."""
    low, high = TEMPO_BPM_RANGE
    tempi = {float(match) for match in _BPM_PATTERN.findall(text)}
    tempo = tempi.pop() if len(tempi) == 1 else None
    return tempo if tempo is not None and low <= tempo <= high else None


def caption_tempi(captions: list[str]) -> list[float | None]:
    """The tempo each caption states, None where it states none (see `stated_tempo`)."""
    return [stated_tempo(caption) for caption in captions]


__all__ = ["HOLD_SHARE", "TempoSteering", "caption_tempi", "code_onsets", "codec_onsets", "stated_tempo",
           "steering_tempi", "tempo_steering"]
