"""Tempo steering: the beat clock against beat times computed directly, the onsets between codes against a
pair-by-pair reference, the bias, and generation whose code changes it moves onto the beat (and leaves alone when
off)."""

import math

import numpy as np
import pytest
import torch
from transformers import GenerationConfig

import simba_music.modeling.tempo_steering as tempo_steering_module
from simba_music.modeling.sampling import SamplingSettings, sample_next
from simba_music.modeling.tempo_steering import (
    ONSET_BANDS,
    ONSET_CEILING,
    ONSET_HIGH_HZ,
    ONSET_LOW_HZ,
    TempoSteering,
    caption_tempi,
    code_onsets,
    codec_onsets,
    stated_tempo,
    tempo_steering,
)
from simba_music.testing_utils import tiny_model_and_processor

pytestmark = pytest.mark.usefixtures("one_thread")


def beat_frames_ref(bpm: float, frame_rate: float, frames: int) -> set[int]:
    """Beat n falls at n * 60 / bpm seconds, in the first frame f with f / frame_rate >= that time."""
    per_beat = 60.0 * frame_rate / bpm
    return {math.ceil(n * per_beat) for n in range(frames) if math.ceil(n * per_beat) < frames}


def ticks(clock: TempoSteering, frames: int) -> torch.Tensor:
    return torch.stack([clock.tick() for _ in range(frames)], dim=-1)  # [rows, frames]


def test_the_clock_ticks_on_the_beat_times():
    clock = TempoSteering([97.0, 120.0, None], 2.0, frame_rate=50.0, codebook_size=8)
    beats = ticks(clock, 500)
    assert set(beats[0].nonzero().flatten().tolist()) == beat_frames_ref(97.0, 50.0, 500)
    assert beats[1].nonzero().flatten().tolist() == list(range(0, 500, 25))
    assert not bool(beats[2].any())  # a row without a tempo never ticks


def test_a_tempo_change_keeps_the_phase():
    clock = TempoSteering([120.0], 2.0, frame_rate=50.0, codebook_size=8)
    first = ticks(clock, 110)[0].nonzero().flatten().tolist()  # beats at 0, 25, 50, 75, 100; 10 frames past the last
    clock.set_tempo([60.0])
    later = (ticks(clock, 200)[0].nonzero().flatten() + 110).tolist()
    assert first == [0, 25, 50, 75, 100]
    # 10 frames into a 25-frame beat is 0.4 of it; the remaining 0.6 at 60 BPM (50 frames a beat) is 30 frames (a
    # clock started afresh would tick at 110 or 160).
    assert later == [140, 190, 240, 290]


def test_the_bias_without_spectra_moves_the_previous_code_against_all_others():
    steering = TempoSteering([75.0, 75.0, None], 3.0, frame_rate=12.5, codebook_size=6, hold_share=0.5)
    base = torch.arange(18.0).reshape(3, 6)
    previous = torch.tensor([2, 4, 1])
    on_beat = steering.bias(previous, base)  # frame 0: a beat for the steered rows
    expected = base + torch.tensor([[3.0] * 6, [3.0] * 6, [0.0] * 6])
    expected[0, 2] -= 3.0
    expected[1, 4] -= 3.0
    assert torch.equal(on_beat, expected)  # every change of code is favoured: the previous code falls behind by 3
    between = steering.bias(previous, None)
    expected = torch.tensor([[-1.5] * 6, [-1.5] * 6, [0.0] * 6])
    expected[0, 2] = expected[1, 4] = 0.0
    assert torch.equal(between, expected)  # the previous code is ahead by 1.5
    assert torch.equal(base, torch.arange(18.0).reshape(3, 6))  # the base bias is not modified in place
    assert steering.bias(None, base) is base  # no previous frame: nothing to hold or change


def onsets_ref(magnitude: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Pair by pair: the mean over log-spaced bands holding a bin of max(0, log band energy rise)."""
    edges = np.geomspace(ONSET_LOW_HZ, min(ONSET_HIGH_HZ, 0.95 * frequencies[-1]), ONSET_BANDS + 1)
    members = [(frequencies >= low) & (frequencies < high) for low, high in zip(edges[:-1], edges[1:], strict=True)]
    energy = np.log(np.stack([(magnitude[:, m] ** 2).mean(1) for m in members if m.any()], 1) + 1e-6)
    codes = len(magnitude)
    rise = np.array([[np.maximum(energy[n] - energy[p], 0).mean() for n in range(codes)] for p in range(codes)])
    capped = np.minimum(rise / rise.mean(), ONSET_CEILING)
    return capped / capped.mean()


def test_code_onsets_match_a_pairwise_reference_and_hear_attacks_not_decays(monkeypatch):
    rate, n_fft = 16000, 2048
    frequencies = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * rate / n_fft
    generator = torch.Generator().manual_seed(0)
    magnitude = torch.rand(70, n_fft // 2 + 1, generator=generator, dtype=torch.float64)
    onsets = code_onsets(magnitude, frequencies)
    np.testing.assert_allclose(onsets.numpy(), onsets_ref(magnitude.numpy(), frequencies.numpy()), rtol=1e-4,
                               atol=1e-5)
    assert float(onsets.diagonal().abs().max()) == 0.0
    assert float(onsets.max()) > ONSET_CEILING and float(onsets.mean()) == pytest.approx(1.0)  # capped, rescaled
    assert (onsets == onsets.max()).sum() > 1  # the cap flattens the top: several pairs share the largest onset
    # A quiet tone, the same tone louder, and silence: attacks are onsets, decays are not (uncapped, to compare).
    monkeypatch.setattr(tempo_steering_module, "ONSET_CEILING", math.inf)
    tone = torch.exp(-0.5 * ((frequencies - 440.0) / 20.0) ** 2)
    onsets = code_onsets(torch.stack([0.1 * tone, tone, torch.zeros_like(tone)]), frequencies)
    assert onsets[2, 1] > onsets[2, 0] > onsets[0, 1] > 0  # silence -> loud, silence -> quiet, quiet -> loud
    assert onsets[1, 0] == onsets[1, 2] == onsets[0, 2] == 0.0


def test_a_codec_whose_codes_are_spectra_gives_onsets_others_do_not():
    from simba_music.modeling.audio_codec import AudioCodec
    from tests.modeling.test_key_steering import chord_codec

    codec = AudioCodec(chord_codec())
    onsets = codec_onsets(codec)
    assert onsets.shape == (24, 24) and float(onsets.mean()) == pytest.approx(1.0)
    codec.model.set_codebooks(codec.model.codebooks.flip(1))  # the codes in reverse order: so are the onsets
    torch.testing.assert_close(codec_onsets(codec), onsets.flip(0).flip(1))
    model, _ = tiny_model_and_processor()
    assert codec_onsets(model.codec) is None


def test_strong_steering_changes_the_code_on_every_beat_and_holds_it_between():
    steering = TempoSteering([75.0], 50.0, frame_rate=12.5, codebook_size=16)  # a beat every 10 frames
    settings = SamplingSettings(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, guidance_scale=1.0)
    generator = [torch.Generator().manual_seed(0)]
    previous, changes = None, []
    for _ in range(60):
        logits = torch.zeros(1, 1, 17)  # uniform over 16 codes and the special id
        code = sample_next(logits, settings, 16, generator, steering.bias(previous, None))[0, 0]
        if previous is not None:
            changes.append(bool(code != previous[0]))
        previous = code[None]
    assert [frame for frame, changed in enumerate(changes, start=1) if changed] == [10, 20, 30, 40, 50]


def test_generation_puts_the_changes_on_the_beat_and_is_a_no_op_when_off():
    model, processor = tiny_model_and_processor(logit_scale=1.0)
    assert model.frame_rate == 12.5
    inputs = processor(text=["calm piano"], return_tensors="pt")

    def codes(**steering):
        return model.generate(**inputs, max_new_tokens=120, seed=3, return_audio=False, progress_bar=False,
                              guidance_scale=1.0, **steering).sequences[0, 0]

    def changes(row):
        return set((row[1:] != row[:-1]).nonzero().flatten().add(1).tolist())

    free, steered = codes(), codes(tempo_bpm=75.0, tempo_strength=50.0)
    beats = beat_frames_ref(75.0, 12.5, 120) - {0}
    assert changes(steered) == beats  # every beat and only the beats
    assert len(changes(free) - beats) > 30  # unsteered, the random decoder changes code almost every frame
    assert torch.equal(codes(tempo_bpm=75.0, tempo_strength=0.0), free)
    assert torch.equal(codes(tempo_bpm=None, tempo_strength=50.0), free)
    assert torch.equal(codes(tempo_bpm=[75.0], tempo_strength=50.0), steered)  # one tempo per row


def test_the_beat_counts_from_the_first_new_frame_after_an_audio_prompt():
    model, processor = tiny_model_and_processor(logit_scale=1.0)
    inputs = processor(text=["calm piano"], return_tensors="pt")
    prompt = 0.1 * torch.randn(1, 1, 640 * 7, generator=torch.Generator().manual_seed(0))  # 7 frames
    out = model.generate(**inputs, audio_prompt=prompt, max_new_tokens=40, seed=0, return_audio=False,
                         progress_bar=False, tempo_bpm=75.0, tempo_strength=50.0).sequences[0, 0]
    new = out[6:]  # the prompt's last code, then the new frames
    assert set((new[1:] != new[:-1]).nonzero().flatten().add(1).tolist()) <= {1, 11, 21, 31}
    assert bool(new[1] != new[0])  # the first new frame is a beat: it leaves the prompt's last code


def test_multi_codebook_models_steer_the_first_codebook():
    model, processor = tiny_model_and_processor(logit_scale=1.0, num_codebooks=2)
    inputs = processor(text=["calm piano"], return_tensors="pt")
    first = model.generate(**inputs, max_new_tokens=60, seed=1, return_audio=False, progress_bar=False,
                           tempo_bpm=75.0, tempo_strength=50.0).sequences[0, 0]
    assert set((first[1:] != first[:-1]).nonzero().flatten().add(1).tolist()) == {10, 20, 30, 40, 50}


def test_captions_steer_tempo_only_in_models_that_opt_in():
    model, processor = tiny_model_and_processor(logit_scale=1.0)
    captions = ["calm piano at 75 BPM", "calm piano"]
    assert model.caption_steering(captions) == {}
    assert model.caption_steering(captions, GenerationConfig(tempo_strength=2.0)) == {"tempo_bpm": [75.0, None]}
    model.generation_config.tempo_strength = 50.0
    assert model.caption_steering(captions) == {"tempo_bpm": [75.0, None]}
    inputs = processor(text=captions[:1], return_tensors="pt")
    read = model.generate(**inputs, max_new_tokens=40, seed=1, return_audio=False, progress_bar=False,
                          **model.caption_steering(captions[:1])).sequences
    given = model.generate(**inputs, max_new_tokens=40, seed=1, return_audio=False, progress_bar=False,
                           tempo_bpm=75.0).sequences  # the config's strength applies to a given tempo too
    plain = model.generate(**inputs, max_new_tokens=40, seed=1, return_audio=False, progress_bar=False).sequences
    assert torch.equal(read, given) and not torch.equal(read, plain)


def test_bad_tempo_steering_is_refused_before_the_decoder_runs():
    model, processor = tiny_model_and_processor()
    calls = []
    model.decoder.register_forward_hook(lambda *args: calls.append(1))
    inputs = processor(text=["calm piano"], return_tensors="pt")
    for steering, message in [(dict(tempo_bpm=500), r"tempo_bpm: must be a tempo in \[30, 300\]"),
                              (dict(tempo_bpm="fast"), "tempo_bpm: must be a tempo"),
                              (dict(tempo_bpm=[90, 100]), "tempo_bpm: must be one tempo or a list of 1"),
                              (dict(tempo_bpm=90, tempo_strength=-1), r"tempo_strength: must be in \[0, 50\]"),
                              (dict(tempo_bpm=90, tempo_strength=float("inf")), "tempo_strength")]:
        with pytest.raises(ValueError, match=message):
            model.generate(**inputs, max_new_tokens=5, progress_bar=False, **steering)
    assert calls == []
    assert tempo_steering(model.codec, None, 2.0, 50.0, 8, batch=2) is None
    assert tempo_steering(model.codec, [None, None], 2.0, 50.0, 8, batch=2) is None


@pytest.mark.parametrize("caption, expected", [
    ("Baroque chorale in B minor for string ensemble, fast tempo (128 BPM), 4/4 meter", 128.0),
    ("a slow waltz at 58 bpm", 58.0),
    ("techno, 132.5 BPM, dark", 132.5),
    ("drums at 96 beats per minute", 96.0),
    ("a calm piano piece", None),
    ("from 80 BPM up to 120 BPM", None),  # two tempi: none to follow
    ("80 BPM, steady 80 bpm", 80.0),
    ("a 1200 BPM joke", None),
    ("20 BPM drone", None),  # outside the range steering takes
    ("BWV 140 chorale", None),
])
def test_stated_tempo(caption, expected):
    assert stated_tempo(caption) == expected
    assert caption_tempi([caption]) == [expected]


def test_the_pipeline_passes_each_prompt_its_tempo():
    from simba_music.pipelines import TextToMusicPipeline
    from tests.modeling.test_key_steering import record_generate

    model, processor = tiny_model_and_processor(logit_scale=1.0)
    model.generation_config.tempo_strength = 50.0
    pipe = TextToMusicPipeline(model=model, tokenizer=processor.tokenizer)
    heard, codes = record_generate(model, "tempo_bpm")
    pipe(["calm piano at 75 BPM", "calm piano at 150 bpm"], max_new_tokens=30, seed=0, batch_size=2,
         guidance_scale=1.0)
    assert heard == [[75.0, 150.0]]
    assert [sorted(set((row[1:] != row[:-1]).nonzero().flatten().add(1).tolist())) for row in codes[0][:, 0]] == \
        [[10, 20], [5, 10, 15, 20, 25]]
    heard.clear()
    pipe(["calm piano", "calm piano"], max_new_tokens=5, seed=0, batch_size=2, tempo_bpm=[90, None])
    assert heard == [[90, None]]
    with pytest.raises(ValueError, match="tempo_bpm: give one value or a list of 2"):
        pipe(["calm piano", "calm piano"], max_new_tokens=5, tempo_bpm=[90])
    heard.clear()
    with pytest.raises(ValueError, match=r"tempo_bpm: must be a tempo in \[30, 300\]"):
        pipe(["calm piano", "calm piano"], max_new_tokens=5, batch_size=1, tempo_bpm=[90, 500])
    assert heard == []  # refused before the first prompt was generated
